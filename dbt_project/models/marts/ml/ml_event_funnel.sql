-- One row per event day and item: the view -> cart -> purchase funnel of clickstream sessions
-- (anonymous sessions included). A session counts once per stage it reached for the item, so
-- the rates are shares of sessions, not of raw events. Empty when no clickstream was ingested.
with

events as (

    select * from {{ ref('stg_shop__events') }}
    where item_id is not null
      and event_type in ('view', 'cart', 'fav', 'purchase')

),

session_items as (

    -- one row per session and item: which stages the session reached
    select
        event_date,
        item_id,
        session_id,
        max(category) as category,
        max(customer_key) as customer_key,
        max(case when event_type = 'view' then 1 else 0 end) as viewed,
        max(case when event_type = 'cart' then 1 else 0 end) as carted,
        max(case when event_type = 'fav' then 1 else 0 end) as faved,
        max(case when event_type = 'purchase' then 1 else 0 end) as purchased,
        cast(count(case when event_type = 'view' then 1 end) as bigint) as n_views
    from events
    group by 1, 2, 3

),

item_days as (

    select
        event_date,
        item_id,
        max(category) as category,
        cast(sum(n_views) as bigint) as n_views,
        cast(count(*) as bigint) as n_sessions,
        cast(sum(viewed) as bigint) as n_sessions_viewed,
        cast(sum(carted) as bigint) as n_sessions_carted,
        cast(sum(faved) as bigint) as n_sessions_faved,
        cast(sum(purchased) as bigint) as n_sessions_purchased,
        cast(sum(case when viewed = 1 and carted = 1 then 1 else 0 end) as bigint) as n_sessions_viewed_carted,
        cast(sum(case when carted = 1 and purchased = 1 then 1 else 0 end) as bigint) as n_sessions_carted_purchased,
        cast(sum(case when viewed = 1 and purchased = 1 then 1 else 0 end) as bigint) as n_sessions_viewed_purchased,
        cast(count(distinct customer_key) as bigint) as n_customers
    from session_items
    group by 1, 2

),

final as (

    select
        cast(event_date as date) as event_date,
        cast(item_id as varchar) as item_id,
        cast(category as varchar) as category,
        n_views,
        n_sessions,
        n_sessions_viewed,
        n_sessions_carted,
        n_sessions_faved,
        n_sessions_purchased,
        n_customers,
        cast(
            case when n_sessions_viewed > 0 then cast(n_sessions_viewed_carted as float8) / n_sessions_viewed end
            as float8
        ) as view_to_cart_rate,
        cast(
            case when n_sessions_carted > 0 then cast(n_sessions_carted_purchased as float8) / n_sessions_carted end
            as float8
        ) as cart_to_purchase_rate,
        cast(
            case when n_sessions_viewed > 0 then cast(n_sessions_viewed_purchased as float8) / n_sessions_viewed end
            as float8
        ) as view_to_purchase_rate
    from item_days

)

select * from final
