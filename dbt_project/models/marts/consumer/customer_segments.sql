-- Analyst-facing customer segments: one row per scoring date and customer, latest date flagged.
with segments as (
    select * from {{ source('scores', 'customer_segments') }}
),

latest as (
    select max(scoring_date) as scoring_date from segments
),

final as (
    select
        cast(segments.scoring_date as date) as scoring_date,
        cast(segments.customer_key as varchar) as customer_key,
        cast(segments.segment_id as integer) as segment_id,
        cast(segments.segment_name as varchar) as segment_name,
        cast(segments.n_segments as integer) as n_segments,
        cast(segments.recency_days as integer) as recency_days,
        cast(segments.frequency as bigint) as frequency,
        cast(segments.monetary as float8) as monetary,
        segments.scoring_date = latest.scoring_date as is_latest,
        cast(segments.model_name as varchar) as model_name,
        cast(segments.model_version as varchar) as model_version,
        cast(segments.mlflow_run_id as varchar) as mlflow_run_id,
        cast(segments.written_at as timestamp) as written_at
    from segments
    cross join latest
)

select * from final
