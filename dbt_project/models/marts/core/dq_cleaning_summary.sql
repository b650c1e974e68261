-- One row per cleaning rule with the number of raw transaction lines it flags, so nothing is
-- dropped silently. count_all_rows counts over every received line; count_kept_rows counts over the
-- lines left after removing overlap and in-batch duplicates (null for those two rules themselves).
with

lines as (

    select * from {{ ref('stg_shop__transactions') }}

),

quarantine as (

    select cast(count(*) as bigint) as n_rows from {{ ref('stg_shop__transactions_quarantine') }}

),

counts as (

    select
        count(*) as raw_rows,
        count(case when is_overlap_duplicate then 1 end) as overlap_duplicate_rows,
        count(case when is_duplicate then 1 end) as duplicate_rows,
        count(case when not is_overlap_duplicate and not is_duplicate then 1 end) as kept_rows,
        {%- for flag in ['cancellation', 'adjustment', 'stock_adjustment', 'non_product', 'zero_price',
                         'negative_price', 'missing_customer', 'sale', 'return'] %}
        count(case when is_{{ flag }} then 1 end) as all_{{ flag }},
        count(case when is_{{ flag }} and not is_overlap_duplicate and not is_duplicate then 1 end)
            as kept_{{ flag }},
        {%- endfor %}
        count(case when not is_sale and not is_return then 1 end) as all_excluded,
        count(case when not is_sale and not is_return and not is_overlap_duplicate and not is_duplicate
            then 1 end) as kept_excluded
    from lines

),

rules as (

    select 1 as rule_order, 'raw_rows' as rule_name, 'lines received into raw.transactions' as rule_description,
        raw_rows as count_all_rows, kept_rows as count_kept_rows from counts
    union all
    select 2, 'quarantined_rows', 'file rows rejected by ingest (raw.transactions_quarantine)',
        n_rows, null from quarantine
    union all
    select 3, 'overlap_duplicate_rows', 'invoice already received in an earlier batch',
        overlap_duplicate_rows, null from counts
    union all
    select 4, 'duplicate_rows', 'identical to an earlier line of the same batch',
        duplicate_rows, null from counts
    {%- set rules = [
        ('cancellation_rows', 'cancellation', 'invoice starts with C'),
        ('adjustment_rows', 'adjustment', 'invoice starts with A (bad-debt adjustment)'),
        ('return_rows', 'return', 'cancellation line of a product with quantity < 0 and price > 0 (netted)'),
        ('stock_adjustment_rows', 'stock_adjustment', 'quantity < 0 outside a cancellation (write-offs)'),
        ('non_product_rows', 'non_product', 'stock code is not a product code (postage, fees, vouchers...)'),
        ('zero_price_rows', 'zero_price', 'price = 0'),
        ('negative_price_rows', 'negative_price', 'price < 0'),
        ('missing_customer_rows', 'missing_customer', 'no customer id (kept for demand, not for customers)'),
        ('sale_lines', 'sale', 'lines counted as sales'),
        ('excluded_rows', 'excluded', 'lines that are neither a sale nor a return'),
    ] %}
    {%- for rule_name, flag, rule_description in rules %}
    union all
    select {{ loop.index + 4 }}, '{{ rule_name }}', '{{ rule_description }}',
        all_{{ flag }}, kept_{{ flag }} from counts
    {%- endfor %}

),

final as (

    select
        cast(rule_order as integer) as rule_order,
        cast(rule_name as varchar) as rule_name,
        cast(rule_description as varchar) as rule_description,
        cast(count_all_rows as bigint) as count_all_rows,
        cast(count_kept_rows as bigint) as count_kept_rows
    from rules

)

select * from final
