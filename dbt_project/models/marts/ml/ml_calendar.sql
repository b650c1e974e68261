-- One row per day from the first invoice date to the data cutoff plus `calendar_future_days`: the calendar
-- and UK holiday features of ml_item_daily_sales, also for the future dates a forecast is made for.
with

calendar as (

    select * from {{ ref('int_calendar') }}

),

final as (

    select
        cast(date_day as date) as date_day,
        cast(year as integer) as year,
        cast(quarter as integer) as quarter,
        cast(month as integer) as month,
        cast(day_of_month as integer) as day_of_month,
        cast(day_of_year as integer) as day_of_year,
        cast(day_of_week as integer) as day_of_week,
        cast(week_of_year as integer) as week_of_year,
        cast(is_weekend as boolean) as is_weekend,
        cast(is_uk_bank_holiday as boolean) as is_uk_bank_holiday,
        cast(holiday_name as varchar) as holiday_name,
        cast(days_to_christmas as integer) as days_to_christmas
    from calendar

)

select * from final
