-- One row per item and day with at least one sale or return line; returns are netted here.
with

lines as (

    select * from {{ ref('int_transactions_cleaned') }}

),

aggregated as (

    select
        item_id,
        invoice_date as sale_date,
        cast(sum(case when is_sale then quantity else 0 end) as bigint) as units_sold,
        cast(-sum(case when is_return then quantity else 0 end) as bigint) as units_returned,
        sum(case when is_sale then line_amount else 0 end) as revenue_sold,
        -sum(case when is_return then line_amount else 0 end) as revenue_returned,
        cast(count(distinct case when is_sale then invoice_id end) as bigint) as n_orders,
        cast(count(distinct case when is_sale then customer_key end) as bigint) as n_customers,
        cast(count(case when is_return then 1 end) as bigint) as n_return_lines
    from lines
    group by 1, 2

),

final as (

    select
        item_id,
        sale_date,
        units_sold,
        units_returned,
        units_sold - units_returned as units_net,
        revenue_sold,
        revenue_returned,
        revenue_sold - revenue_returned as revenue_net,
        n_orders,
        n_customers,
        n_return_lines
    from aggregated

)

select * from final
