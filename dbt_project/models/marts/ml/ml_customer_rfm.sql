-- One row per (pseudonymised) customer with at least one sale order, as of the data cutoff:
-- recency, frequency, monetary value and basket / return behaviour.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

sale_lines as (

    select * from {{ ref('int_transactions_cleaned') }}
    where is_sale and customer_key is not null

),

cutoff as (

    select max(invoice_date) as cutoff_date
    from {{ ref('int_transactions_cleaned') }}
    where is_sale

),

order_stats as (

    select
        orders.customer_key,
        min(case when orders.order_type = 'sale' then orders.order_date end) as first_order_date,
        max(case when orders.order_type = 'sale' then orders.order_date end) as last_order_date,
        cast(count(case when orders.order_type = 'sale' then 1 end) as bigint) as frequency,
        sum(case when orders.order_type = 'sale' then orders.amount else 0 end) as revenue_sold,
        sum(case when orders.order_type = 'return' then orders.amount else 0 end) as revenue_returned,
        cast(sum(case when orders.order_type = 'sale' then orders.units else 0 end) as bigint) as units_sold,
        cast(sum(case when orders.order_type = 'return' then orders.units else 0 end) as bigint) as units_returned
    from orders
    cross join cutoff
    where orders.order_date <= cutoff.cutoff_date
    group by 1

),

item_counts as (

    select customer_key, cast(count(distinct item_id) as bigint) as n_distinct_items
    from sale_lines
    group by 1

),

countries as (

    select customer_key, country
    from (
        select
            customer_key,
            country,
            row_number() over (
                partition by customer_key order by count(*) desc, country
            ) as country_rank
        from sale_lines
        where country is not null
        group by 1, 2
    ) as ranked
    where country_rank = 1

),

final as (

    select
        cast(order_stats.customer_key as varchar) as customer_key,
        cast(cutoff.cutoff_date as date) as as_of_date,
        cast(order_stats.first_order_date as date) as first_order_date,
        cast(order_stats.last_order_date as date) as last_order_date,
        {{ days_between('order_stats.last_order_date', 'cutoff.cutoff_date') }} as recency_days,
        {{ days_between('order_stats.first_order_date', 'cutoff.cutoff_date') }} as tenure_days,
        order_stats.frequency,
        cast(order_stats.revenue_sold - order_stats.revenue_returned as float8) as monetary,
        cast(order_stats.revenue_sold as float8) as revenue_sold,
        cast(order_stats.revenue_returned as float8) as revenue_returned,
        cast(order_stats.revenue_sold as float8) / order_stats.frequency as avg_basket_value,
        coalesce(item_counts.n_distinct_items, 0) as n_distinct_items,
        order_stats.units_sold,
        order_stats.units_returned,
        cast(order_stats.units_returned as float8) / order_stats.units_sold as return_rate,
        cast(countries.country as varchar) as country
    from order_stats
    cross join cutoff
    left join item_counts
        on order_stats.customer_key = item_counts.customer_key
    left join countries
        on order_stats.customer_key = countries.customer_key
    where order_stats.frequency > 0

)

select * from final
