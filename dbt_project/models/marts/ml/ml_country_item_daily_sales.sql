-- One row per country, item and day with at least one sale line (not zero-filled): the units, revenue and orders
-- of an item in a country, for "top items in a country" views. Units are counted as in ml_item_daily_sales.
with

lines as (

    select
        coalesce(country, 'Unspecified') as country,
        item_id,
        invoice_date as sale_date,
        invoice_id,
        quantity,
        line_amount
    from {{ ref('int_transactions_cleaned') }}
    where is_sale

),

final as (

    select
        cast(country as varchar) as country,
        cast(item_id as varchar) as item_id,
        cast(sale_date as date) as sale_date,
        cast(sum(quantity) as bigint) as units_sold,
        cast(sum(line_amount) as float8) as revenue_sold,
        cast(count(distinct invoice_id) as bigint) as n_orders
    from lines
    group by 1, 2, 3

)

select * from final
