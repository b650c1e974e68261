-- Analyst-facing trend signals: items and categories, latest as_of flagged, item names joined.
with signals as (
    select * from {{ source('trends', 'item_trend_signals') }}
),

items as (
    select item_id, description, category from {{ ref('ml_item_text') }}
),

latest as (
    select max(as_of) as as_of from signals
),

final as (
    select
        signals.as_of,
        signals.level,
        signals.entity_id,
        case when signals.level = 'item' then items.description end as item_description,
        case when signals.level = 'item' then coalesce(items.category, 'other') else signals.entity_id end
            as category,
        signals.direction,
        signals.strength,
        signals.confidence,
        signals.slope_units_per_week,
        signals.recent_units,
        signals.forecast_units,
        signals.n_items,
        signals.as_of = latest.as_of as is_latest,
        signals.written_at
    from signals
    cross join latest
    left join items on signals.level = 'item' and items.item_id = signals.entity_id
)

select * from final
