-- One row per sale or return line that counts for demand (key: batch_id, source_row);
-- every other line stays visible in stg_shop__transactions and dq_cleaning_summary.
with

lines as (

    select * from {{ ref('stg_shop__transactions') }}
    where is_sale or is_return

),

final as (

    select
        batch_id,
        source_row,
        invoice_id,
        item_id,
        description,
        invoiced_at,
        invoice_date,
        quantity,
        unit_price,
        line_amount,
        customer_key,
        country,
        case when is_sale then 'sale' else 'return' end as line_type,
        is_sale,
        is_return
    from lines

)

select * from final
