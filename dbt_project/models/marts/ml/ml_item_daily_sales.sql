-- One row per item and day on the zero-filled calendar (first sale date .. cutoff): demand, prices,
-- calendar features and leakage-free lags / rolling statistics of units_sold (every window ends
-- strictly before sale_date; the *_lag28 windows end 28 days before it, for direct 28-day forecasts).
with

item_days as (

    select * from {{ ref('int_item_day_spine') }}

),

calendar as (

    select * from {{ ref('int_calendar') }}

),

categories as (

    select item_id, category from {{ ref('int_item_categories') }}

),

priced as (

    select
        item_days.*,
        case
            when item_days.units_sold > 0
                then cast(item_days.revenue_sold as float8) / item_days.units_sold
        end as avg_unit_price
    from item_days

),

price_groups as (

    -- each run of days without a sale shares the group of the last day that had one
    select
        priced.*,
        count(avg_unit_price) over (
            partition by item_id order by sale_date rows between unbounded preceding and current row
        ) as price_group
    from priced

),

carried as (

    select
        price_groups.*,
        max(avg_unit_price) over (partition by item_id, price_group) as price
    from price_groups

),

windowed as (

    select
        carried.*,
        lag(price, 28) over by_item as price_28d_ago,
        lag(units_sold, 1) over by_item as lag_1,
        lag(units_sold, 7) over by_item as lag_7,
        lag(units_sold, 14) over by_item as lag_14,
        lag(units_sold, 28) over by_item as lag_28,
        avg(cast(units_sold as float8)) over (
            partition by item_id order by sale_date rows between 7 preceding and 1 preceding
        ) as roll_mean_7,
        avg(cast(units_sold as float8)) over (
            partition by item_id order by sale_date rows between 28 preceding and 1 preceding
        ) as roll_mean_28,
        stddev_samp(cast(units_sold as float8)) over (
            partition by item_id order by sale_date rows between 28 preceding and 1 preceding
        ) as roll_std_28,
        avg(cast(units_sold as float8)) over (
            partition by item_id order by sale_date rows between 34 preceding and 28 preceding
        ) as roll_mean_7_lag28,
        avg(cast(units_sold as float8)) over (
            partition by item_id order by sale_date rows between 55 preceding and 28 preceding
        ) as roll_mean_28_lag28
    from carried
    -- the spine has one row per day, so N rows back is N days back
    window by_item as (partition by item_id order by sale_date)

),

final as (

    select
        cast(windowed.item_id as varchar) as item_id,
        cast(windowed.sale_date as date) as sale_date,
        cast(windowed.units_sold as bigint) as units_sold,
        cast(windowed.units_returned as bigint) as units_returned,
        cast(windowed.units_net as bigint) as units_net,
        cast(windowed.revenue_sold as float8) as revenue_sold,
        cast(windowed.revenue_returned as float8) as revenue_returned,
        cast(windowed.revenue_net as float8) as revenue_net,
        cast(windowed.n_orders as bigint) as n_orders,
        cast(windowed.n_customers as bigint) as n_customers,
        cast(windowed.avg_unit_price as float8) as avg_unit_price,
        cast(windowed.price as float8) as price,
        cast(
            case
                when windowed.price_28d_ago > 0 then windowed.price / windowed.price_28d_ago - 1
            end as float8
        ) as price_change_pct,
        calendar.day_of_week,
        calendar.day_of_month,
        calendar.week_of_year,
        calendar.month,
        calendar.year,
        calendar.is_weekend,
        calendar.is_uk_bank_holiday,
        calendar.days_to_christmas,
        cast(coalesce(categories.category, 'other') as varchar) as category,
        {{ days_between('windowed.first_sale_date', 'windowed.sale_date') }} as days_since_first_sale,
        cast(windowed.lag_1 as bigint) as lag_1,
        cast(windowed.lag_7 as bigint) as lag_7,
        cast(windowed.lag_14 as bigint) as lag_14,
        cast(windowed.lag_28 as bigint) as lag_28,
        cast(windowed.roll_mean_7 as float8) as roll_mean_7,
        cast(windowed.roll_mean_28 as float8) as roll_mean_28,
        cast(windowed.roll_std_28 as float8) as roll_std_28,
        cast(windowed.roll_mean_7_lag28 as float8) as roll_mean_7_lag28,
        cast(windowed.roll_mean_28_lag28 as float8) as roll_mean_28_lag28
    from windowed
    inner join calendar
        on windowed.sale_date = calendar.date_day
    left join categories
        on windowed.item_id = categories.item_id

)

select * from final
