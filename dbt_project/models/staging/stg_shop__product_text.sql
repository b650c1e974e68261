-- One row per received product text (key: batch_id, source_row): descriptions and reviews.
with

source as (

    select * from {{ source('shop', 'product_text') }}

),

renamed as (

    select
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_source_row as bigint) as source_row,
        _loaded_at as loaded_at,

        upper(trim(stock_code)) as item_id,
        lower(trim(kind)) as text_kind,
        nullif(trim(text), '') as text,
        nullif(trim(category), '') as category,
        cast(rating as integer) as rating,
        cast(written_at as timestamp) as written_at

    from source

)

select * from renamed
