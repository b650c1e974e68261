-- One row per received invoice line (key: batch_id, source_row), typed, renamed and flagged by the
-- CONTRACTS cleaning rules. Nothing is dropped here: downstream models filter on is_sale / is_return.
-- Materialised as a table (not a view): readers of staging then never need the secrets schema the
-- pseudonymisation salt is read from.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('shop', 'transactions') }}

),

renamed as (

    select
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_source_row as bigint) as source_row,
        _loaded_at as loaded_at,

        -- the 8 source columns exactly as received (used for duplicate detection only)
        invoice as raw_invoice,
        stock_code as raw_stock_code,
        description as raw_description,
        quantity as raw_quantity,
        invoice_date as raw_invoice_date,
        price as raw_price,
        customer_id as raw_customer_id,
        country as raw_country,

        trim(invoice) as invoice_id,
        upper(trim(stock_code)) as item_id,
        nullif(trim(description), '') as description,
        cast(quantity as bigint) as quantity,
        cast(invoice_date as timestamp) as invoiced_at,
        cast(invoice_date as date) as invoice_date,
        cast(price as float8) as unit_price,
        {{ to_money('price') }} * cast(quantity as bigint) as line_amount,
        {{ pseudonymise('trim(customer_id)') }} as customer_key,
        nullif(trim(country), '') as country

    from source

),

batch_order as (

    -- the first batch (earliest load, ties -> smallest batch id) in which each invoice appeared
    select
        *,
        first_value(batch_id) over (
            partition by invoice_id
            order by loaded_at, batch_id
            rows between unbounded preceding and unbounded following
        ) as first_batch_id
    from renamed

),

overlap_flagged as (

    select
        *,
        batch_id <> first_batch_id as is_overlap_duplicate
    from batch_order

),

duplicate_ranked as (

    select
        *,
        case
            when is_overlap_duplicate then 1
            else row_number() over (
                partition by
                    batch_id, is_overlap_duplicate,
                    raw_invoice, raw_stock_code, raw_description, raw_quantity,
                    raw_invoice_date, raw_price, raw_customer_id, raw_country
                order by source_row
            )
        end as duplicate_rank
    from overlap_flagged

),

flags as (

    select
        *,
        duplicate_rank > 1 as is_duplicate,
        invoice_id like 'C%' as is_cancellation,
        invoice_id like 'A%' as is_adjustment,
        not coalesce({{ regex_matches('item_id', '^[0-9]{5}[A-Z]{0,2}$') }}, false) as is_non_product,
        quantity < 0 and not invoice_id like 'C%' as is_stock_adjustment,
        unit_price = 0 as is_zero_price,
        unit_price < 0 as is_negative_price,
        customer_key is null as is_missing_customer
    from duplicate_ranked

),

non_product_codes as (

    select upper(trim(stock_code)) as code, match_type, kind
    from {{ ref('non_product_stock_codes') }}

),

non_product_item_kinds as (

    select item_id, kind as non_product_kind
    from (
        select
            ids.item_id,
            codes.kind,
            row_number() over (
                partition by ids.item_id
                order by case when codes.match_type = 'exact' then 0 else 1 end, codes.code
            ) as match_rank
        from (select distinct item_id from flags where is_non_product) as ids
        inner join non_product_codes as codes
            on ids.item_id = codes.code
            or (codes.match_type = 'prefix' and ids.item_id like codes.code || '%')
    ) as ranked
    where match_rank = 1

),

final as (

    select
        flags.batch_id,
        flags.source_file,
        flags.source_row,
        flags.loaded_at,
        flags.invoice_id,
        flags.item_id,
        flags.description,
        flags.quantity,
        flags.invoiced_at,
        flags.invoice_date,
        flags.unit_price,
        flags.line_amount,
        flags.customer_key,
        flags.country,

        flags.is_overlap_duplicate,
        flags.is_duplicate,
        flags.is_cancellation,
        flags.is_adjustment,
        flags.is_non_product,
        case
            when flags.is_non_product then coalesce(kinds.non_product_kind, 'unknown')
        end as non_product_kind,
        flags.is_stock_adjustment,
        flags.is_zero_price,
        flags.is_negative_price,
        flags.is_missing_customer,

        not flags.is_overlap_duplicate
        and not flags.is_duplicate
        and not flags.is_cancellation
        and not flags.is_adjustment
        and not flags.is_non_product
        and flags.quantity > 0
        and flags.unit_price > 0 as is_sale,

        not flags.is_overlap_duplicate
        and not flags.is_duplicate
        and flags.is_cancellation
        and not flags.is_non_product
        and flags.quantity < 0
        and flags.unit_price > 0 as is_return

    from flags
    left join non_product_item_kinds as kinds
        on flags.item_id = kinds.item_id

)

select * from final
