-- One row per view or add-to-cart event of a known (pseudonymised) customer on an item: the clickstream the
-- recommenders read (browsing profiles, co-viewed sessions), so Python never reads staging.
-- Empty when no clickstream was ingested (raw.events without rows), e.g. for Online Retail II.
with

events as (

    select * from {{ ref('stg_shop__events') }}
    where customer_key is not null
      and item_id is not null
      and event_type in ('view', 'cart')

),

final as (

    select
        cast(customer_key as varchar) as customer_key,
        cast(session_id as varchar) as session_id,
        cast(item_id as varchar) as item_id,
        cast(event_type as varchar) as event_type,
        cast(event_at as timestamp) as event_at
    from events

)

select * from final
