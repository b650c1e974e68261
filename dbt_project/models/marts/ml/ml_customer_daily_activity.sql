-- One row per (pseudonymised) customer and day with any activity: sale orders, returns and clickstream events.
-- Point-in-time customer features (RFM, behaviour) as of any cutoff T are sums over the rows with
-- activity_date <= T, so Python never needs staging and never sees anything after T.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}
    where customer_key is not null

),

order_days as (

    select
        customer_key,
        order_date as activity_date,
        cast(count(case when order_type = 'sale' then 1 end) as bigint) as n_orders,
        cast(count(case when order_type = 'return' then 1 end) as bigint) as n_returns,
        sum(case when order_type = 'sale' then amount else 0 end) as revenue_sold,
        sum(case when order_type = 'return' then amount else 0 end) as revenue_returned,
        cast(sum(case when order_type = 'sale' then units else 0 end) as bigint) as units_sold,
        cast(sum(case when order_type = 'return' then units else 0 end) as bigint) as units_returned,
        cast(sum(case when order_type = 'sale' then n_lines else 0 end) as bigint) as n_sale_lines
    from orders
    group by 1, 2

),

event_days as (

    select
        customer_key,
        event_date as activity_date,
        cast(count(case when event_type = 'view' then 1 end) as bigint) as n_views,
        cast(count(case when event_type = 'cart' then 1 end) as bigint) as n_carts,
        cast(count(case when event_type = 'fav' then 1 end) as bigint) as n_favs,
        cast(count(case when event_type = 'purchase' then 1 end) as bigint) as n_purchase_events,
        cast(count(case when event_type = 'search' then 1 end) as bigint) as n_searches,
        cast(count(distinct session_id) as bigint) as n_sessions
    from events
    group by 1, 2

),

keys as (

    select customer_key, activity_date from order_days
    union
    select customer_key, activity_date from event_days

),

final as (

    select
        cast(keys.customer_key as varchar) as customer_key,
        cast(keys.activity_date as date) as activity_date,
        coalesce(order_days.n_orders, 0) as n_orders,
        coalesce(order_days.n_returns, 0) as n_returns,
        cast(coalesce(order_days.revenue_sold, 0) as float8) as revenue_sold,
        cast(coalesce(order_days.revenue_returned, 0) as float8) as revenue_returned,
        coalesce(order_days.units_sold, 0) as units_sold,
        coalesce(order_days.units_returned, 0) as units_returned,
        coalesce(order_days.n_sale_lines, 0) as n_sale_lines,
        coalesce(event_days.n_views, 0) as n_views,
        coalesce(event_days.n_carts, 0) as n_carts,
        coalesce(event_days.n_favs, 0) as n_favs,
        coalesce(event_days.n_purchase_events, 0) as n_purchase_events,
        coalesce(event_days.n_searches, 0) as n_searches,
        coalesce(event_days.n_sessions, 0) as n_sessions
    from keys
    left join order_days
        on keys.customer_key = order_days.customer_key
        and keys.activity_date = order_days.activity_date
    left join event_days
        on keys.customer_key = event_days.customer_key
        and keys.activity_date = event_days.activity_date

)

select * from final
