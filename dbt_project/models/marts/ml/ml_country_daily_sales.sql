-- One row per country and day on the zero-filled calendar (the country's first sale date .. the data cutoff):
-- units and revenue of sale and return lines, sale orders, distinct items and known customers. Units are counted
-- as in ml_item_daily_sales (sum of quantity on cleaned sale lines), so a day's units over all countries equal
-- that day's units over all items.
with

lines as (

    select
        coalesce(country, 'Unspecified') as country,
        invoice_date as sale_date,
        invoice_id,
        item_id,
        customer_key,
        quantity,
        line_amount,
        is_sale,
        is_return
    from {{ ref('int_transactions_cleaned') }}

),

country_days as (

    select
        country,
        sale_date,
        cast(sum(case when is_sale then quantity else 0 end) as bigint) as units_sold,
        cast(-sum(case when is_return then quantity else 0 end) as bigint) as units_returned,
        sum(case when is_sale then line_amount else 0 end) as revenue_sold,
        -sum(case when is_return then line_amount else 0 end) as revenue_returned,
        cast(count(distinct case when is_sale then invoice_id end) as bigint) as n_orders,
        cast(count(distinct case when is_sale then item_id end) as bigint) as n_items,
        cast(count(distinct case when is_sale then customer_key end) as bigint) as n_customers
    from lines
    group by 1, 2

),

first_sales as (

    select
        country,
        min(sale_date) as first_sale_date
    from country_days
    where units_sold > 0
    group by 1

),

cutoff as (

    -- the same cutoff as int_item_day_spine: the last day with a sale
    select max(sale_date) as cutoff_date
    from country_days
    where units_sold > 0

),

calendar as (

    select date_day from {{ ref('int_calendar') }}

),

spine as (

    select
        first_sales.country,
        calendar.date_day as sale_date
    from first_sales
    cross join cutoff
    inner join calendar
        on calendar.date_day >= first_sales.first_sale_date
        and calendar.date_day <= cutoff.cutoff_date

),

final as (

    select
        cast(spine.country as varchar) as country,
        cast(spine.sale_date as date) as sale_date,
        cast(coalesce(country_days.units_sold, 0) as bigint) as units_sold,
        cast(coalesce(country_days.units_returned, 0) as bigint) as units_returned,
        cast(coalesce(country_days.units_sold, 0) - coalesce(country_days.units_returned, 0) as bigint) as units_net,
        cast(coalesce(country_days.revenue_sold, 0) as float8) as revenue_sold,
        cast(coalesce(country_days.revenue_returned, 0) as float8) as revenue_returned,
        cast(
            coalesce(country_days.revenue_sold, 0) - coalesce(country_days.revenue_returned, 0) as float8
        ) as revenue_net,
        cast(coalesce(country_days.n_orders, 0) as bigint) as n_orders,
        cast(coalesce(country_days.n_items, 0) as bigint) as n_items,
        cast(coalesce(country_days.n_customers, 0) as bigint) as n_customers
    from spine
    left join country_days
        on spine.country = country_days.country
        and spine.sale_date = country_days.sale_date

)

select * from final
