-- One row per item and day from the item's first SALE date to the data cutoff (the last sale date
-- in the warehouse), inclusive; days without sales are zero-filled. Returns before the first sale
-- or after the cutoff fall outside the spine (they stay in int_sales_aggregated_to_item_days).
with

item_days as (

    select * from {{ ref('int_sales_aggregated_to_item_days') }}

),

calendar as (

    select date_day from {{ ref('int_calendar') }}

),

first_sales as (

    select
        item_id,
        min(sale_date) as first_sale_date
    from item_days
    where units_sold > 0
    group by 1

),

cutoff as (

    select max(sale_date) as cutoff_date
    from item_days
    where units_sold > 0

),

spine as (

    select
        first_sales.item_id,
        calendar.date_day as sale_date,
        first_sales.first_sale_date,
        cutoff.cutoff_date
    from first_sales
    cross join cutoff
    inner join calendar
        on calendar.date_day >= first_sales.first_sale_date
        and calendar.date_day <= cutoff.cutoff_date

),

final as (

    select
        spine.item_id,
        spine.sale_date,
        spine.first_sale_date,
        spine.cutoff_date,
        coalesce(item_days.units_sold, 0) as units_sold,
        coalesce(item_days.units_returned, 0) as units_returned,
        coalesce(item_days.units_net, 0) as units_net,
        coalesce(item_days.revenue_sold, 0) as revenue_sold,
        coalesce(item_days.revenue_returned, 0) as revenue_returned,
        coalesce(item_days.revenue_net, 0) as revenue_net,
        coalesce(item_days.n_orders, 0) as n_orders,
        coalesce(item_days.n_customers, 0) as n_customers
    from spine
    left join item_days
        on spine.item_id = item_days.item_id
        and spine.sale_date = item_days.sale_date

)

select * from final
