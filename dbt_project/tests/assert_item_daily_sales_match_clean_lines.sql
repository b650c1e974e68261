-- The zero-filled mart keeps every sold unit and every pound of the sale lines.
with lines as (
    select
        sum(case when is_sale then quantity else 0 end) as units_sold,
        sum(case when is_sale then line_amount else 0 end) as revenue_sold
    from {{ ref('int_transactions_cleaned') }}
),
mart as (
    select sum(units_sold) as units_sold, sum(revenue_sold) as revenue_sold
    from {{ ref('ml_item_daily_sales') }}
)
select *
from lines
cross join mart
where coalesce(lines.units_sold, 0) <> coalesce(mart.units_sold, 0)
   or abs(coalesce(lines.revenue_sold, 0) - coalesce(mart.revenue_sold, 0)) > 0.01
