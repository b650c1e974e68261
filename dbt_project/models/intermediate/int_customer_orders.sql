-- One row per customer and invoice (sale orders and returns) of known customers.
with

lines as (

    select * from {{ ref('int_transactions_cleaned') }}
    where customer_key is not null

),

final as (

    select
        customer_key,
        invoice_id,
        min(line_type) as order_type,
        min(invoice_date) as order_date,
        min(country) as country,
        cast(count(*) as bigint) as n_lines,
        cast(count(distinct item_id) as bigint) as n_items,
        cast(sum(abs(quantity)) as bigint) as units,
        sum(abs(line_amount)) as amount
    from lines
    group by 1, 2

)

select * from final
