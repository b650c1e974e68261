-- Every item has one row per day from its first sale to the common cutoff: no gap, no early end.
with per_item as (
    select
        item_id,
        min(sale_date) as first_day,
        max(sale_date) as last_day,
        count(*) as n_days
    from {{ ref('ml_item_daily_sales') }}
    group by 1
),
cutoff as (
    select max(sale_date) as cutoff_date from {{ ref('ml_item_daily_sales') }} where units_sold > 0
)
select per_item.item_id
from per_item
cross join cutoff
where per_item.last_day <> cutoff.cutoff_date
   or per_item.n_days <> {{ days_between('per_item.first_day', 'per_item.last_day') }} + 1
