-- No item-day precedes the item's first sale, and the first day of every item has a sale.
with first_sales as (
    select item_id, min(sale_date) as first_sale_date
    from {{ ref('int_sales_aggregated_to_item_days') }}
    where units_sold > 0
    group by 1
)
select mart.item_id, mart.sale_date
from {{ ref('ml_item_daily_sales') }} as mart
left join first_sales
    on mart.item_id = first_sales.item_id
where first_sales.first_sale_date is null
   or mart.sale_date < first_sales.first_sale_date
   or (mart.sale_date = first_sales.first_sale_date and mart.units_sold <= 0)
   or mart.days_since_first_sale <> {{ days_between('first_sales.first_sale_date', 'mart.sale_date') }}
