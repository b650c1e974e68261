-- Analyst-facing recommendations: top-10 items per scoring date and customer, item names joined, latest date flagged.
with recommendations as (
    select * from {{ source('scores', 'customer_recommendations') }}
),

items as (
    select item_id, description, category from {{ ref('ml_item_text') }}
),

latest as (
    select max(scoring_date) as scoring_date from recommendations
),

final as (
    select
        cast(recommendations.scoring_date as date) as scoring_date,
        cast(recommendations.customer_key as varchar) as customer_key,
        cast(recommendations.rank as integer) as recommendation_rank,
        cast(recommendations.item_id as varchar) as item_id,
        cast(items.description as varchar) as item_description,
        cast(items.category as varchar) as category,
        cast(recommendations.score as float8) as score,
        recommendations.scoring_date = latest.scoring_date as is_latest,
        cast(recommendations.model_name as varchar) as model_name,
        cast(recommendations.model_version as varchar) as model_version,
        cast(recommendations.model_alias as varchar) as model_alias,
        cast(recommendations.mlflow_run_id as varchar) as mlflow_run_id,
        cast(recommendations.written_at as timestamp) as written_at
    from recommendations
    cross join latest
    left join items
        on recommendations.item_id = items.item_id
)

select * from final
