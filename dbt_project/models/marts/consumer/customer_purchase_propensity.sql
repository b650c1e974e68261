-- Analyst-facing purchase propensity: one row per scoring date and customer, latest date flagged.
with scores as (
    select * from {{ source('scores', 'customer_purchase_propensity') }}
),

latest as (
    select max(scoring_date) as scoring_date from scores
),

final as (
    select
        cast(scores.scoring_date as date) as scoring_date,
        cast(scores.customer_key as varchar) as customer_key,
        cast(scores.purchase_probability as float8) as purchase_probability,
        cast(scores.propensity_decile as integer) as propensity_decile,
        cast(scores.horizon_days as integer) as horizon_days,
        cast(scores.recency_days as integer) as recency_days,
        cast(scores.frequency as bigint) as frequency,
        cast(scores.monetary as float8) as monetary,
        scores.scoring_date = latest.scoring_date as is_latest,
        cast(scores.model_name as varchar) as model_name,
        cast(scores.model_version as varchar) as model_version,
        cast(scores.model_alias as varchar) as model_alias,
        cast(scores.mlflow_run_id as varchar) as mlflow_run_id,
        cast(scores.written_at as timestamp) as written_at
    from scores
    cross join latest
)

select * from final
