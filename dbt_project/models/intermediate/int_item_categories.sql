-- One row per sold item: its latest name on sale lines and a category, taken from the product
-- text feed when it has one, else from the first matching keyword (item_category_keywords seed).
with

sale_lines as (

    select * from {{ ref('int_transactions_cleaned') }}
    where is_sale

),

product_descriptions as (

    select * from {{ ref('stg_shop__product_text') }}
    where text_kind = 'description'

),

keywords as (

    select upper(keyword) as keyword, category, priority
    from {{ ref('item_category_keywords') }}

),

item_names as (

    select item_id, item_name
    from (
        select
            item_id,
            description as item_name,
            row_number() over (
                partition by item_id
                order by case when description is null then 1 else 0 end,
                    invoiced_at desc, batch_id desc, source_row desc
            ) as name_rank
        from sale_lines
    ) as ranked
    where name_rank = 1

),

text_descriptions as (

    select item_id, description_text, category
    from (
        select
            item_id,
            text as description_text,
            category,
            row_number() over (
                partition by item_id
                order by case when category is null then 1 else 0 end,
                    written_at desc, loaded_at desc, source_row desc
            ) as text_rank
        from product_descriptions
    ) as ranked
    where text_rank = 1

),

keyword_matches as (

    select item_id, category
    from (
        select
            item_names.item_id,
            keywords.category,
            row_number() over (
                partition by item_names.item_id
                order by keywords.priority, keywords.keyword
            ) as match_rank
        from item_names
        inner join keywords
            -- keyword at the start of a word: 'RING' matches 'RINGS' but not 'STRING'
            on ' ' || upper(item_names.item_name) like '% ' || keywords.keyword || '%'
    ) as ranked
    where match_rank = 1

),

final as (

    select
        item_names.item_id,
        item_names.item_name,
        text_descriptions.description_text,
        coalesce(text_descriptions.category, keyword_matches.category, 'other') as category,
        case
            when text_descriptions.category is not null then 'product_text'
            when keyword_matches.category is not null then 'keyword'
            else 'default'
        end as category_source
    from item_names
    left join text_descriptions
        on item_names.item_id = text_descriptions.item_id
    left join keyword_matches
        on item_names.item_id = keyword_matches.item_id

)

select * from final
