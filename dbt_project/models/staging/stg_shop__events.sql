-- One row per received clickstream event (key: batch_id, source_row), customer pseudonymised.
-- A table for the same reason as stg_shop__transactions: readers never need the salt's secrets schema.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('shop', 'events') }}

),

renamed as (

    select
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_source_row as bigint) as source_row,
        _loaded_at as loaded_at,

        {{ pseudonymise('trim(customer_id)') }} as customer_key,
        session_id,
        upper(trim(nullif(stock_code, ''))) as item_id,
        nullif(trim(category), '') as category,
        lower(trim(event_type)) as event_type,
        nullif(trim(search_query), '') as search_query,
        cast(event_time as timestamp) as event_at,
        cast(event_time as date) as event_date

    from source

)

select * from renamed
