-- One row per sold item: the text to embed (product-feed description when present, else the
-- latest item name on sale lines), its category, review statistics and a hash for embedding caches.
with

items as (

    select * from {{ ref('int_item_categories') }}

),

reviews as (

    select
        item_id,
        cast(count(*) as bigint) as review_count,
        avg(cast(rating as float8)) as avg_rating
    from {{ ref('stg_shop__product_text') }}
    where text_kind = 'review'
    group by 1

),

described as (

    select
        items.item_id,
        items.item_name,
        coalesce(items.description_text, items.item_name) as description,
        items.category,
        items.category_source,
        coalesce(reviews.review_count, 0) as review_count,
        reviews.avg_rating
    from items
    left join reviews
        on items.item_id = reviews.item_id

),

final as (

    select
        cast(item_id as varchar) as item_id,
        cast(item_name as varchar) as item_name,
        cast(description as varchar) as description,
        cast(category as varchar) as category,
        cast(category_source as varchar) as category_source,
        cast(review_count as bigint) as review_count,
        cast(avg_rating as float8) as avg_rating,
        cast({{ sha256_hex("coalesce(description, '')") }} as varchar) as text_hash
    from described

)

select * from final
