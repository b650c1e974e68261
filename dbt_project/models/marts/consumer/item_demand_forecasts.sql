-- Analyst-facing demand forecasts: every forecast date, with item names and readable interval names.
with forecasts as (
    select * from {{ source('forecasts', 'item_daily_forecast') }}
),

items as (
    select item_id, description, category from {{ ref('ml_item_text') }}
),

latest as (
    select max(forecast_date) as forecast_date from forecasts
),

final as (
    select
        forecasts.forecast_date,
        forecasts.item_id,
        items.description as item_description,
        coalesce(items.category, 'other') as category,
        forecasts.target_date,
        forecasts.horizon as horizon_days,
        forecasts.y_hat as units_forecast,
        forecasts.y_hat_lo_80 as units_lower_80,
        forecasts.y_hat_hi_80 as units_upper_80,
        forecasts.y_hat_lo_95 as units_lower_95,
        forecasts.y_hat_hi_95 as units_upper_95,
        forecasts.q500 as units_median,
        forecasts.forecast_date = latest.forecast_date as is_latest,
        forecasts.model_name,
        forecasts.model_version,
        forecasts.model_alias,
        forecasts.mlflow_run_id,
        forecasts.dbt_invocation_id,
        forecasts.validation_run_id,
        forecasts.written_at
    from forecasts
    cross join latest
    left join items on items.item_id = forecasts.item_id
)

select * from final
