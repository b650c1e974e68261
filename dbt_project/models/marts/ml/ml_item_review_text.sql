-- One row per item and distinct review text: the text to embed, how often it was received, and its hash (the key
-- of the embedding cache shared with ml_item_text descriptions). Empty when the product feed has no reviews.
with

reviews as (

    select
        item_id,
        text,
        rating,
        written_at
    from {{ ref('stg_shop__product_text') }}
    where text_kind = 'review' and text is not null and item_id is not null

),

final as (

    select
        cast(item_id as varchar) as item_id,
        cast(text as varchar) as review_text,
        cast(count(*) as bigint) as n_reviews,
        avg(cast(rating as float8)) as avg_rating,
        cast(max(written_at) as timestamp) as last_written_at,
        cast({{ sha256_hex('text') }} as varchar) as text_hash
    from reviews
    group by item_id, text

)

select * from final
