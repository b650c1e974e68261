-- One row per day from the first invoice date to the data cutoff plus `calendar_future_days`
-- (so forecasts can join calendar features of future dates), with UK (England & Wales) holidays.
with

bounds as (

    select
        min(invoice_date) as first_date,
        max(case when is_sale then invoice_date end) as cutoff_date
    from {{ ref('stg_shop__transactions') }}
    where not is_overlap_duplicate

),

spine as (

    {{ date_spine(
        "(select first_date from bounds)",
        add_days("(select cutoff_date from bounds)", var('calendar_future_days', 120))
    ) }}

),

holidays as (

    select
        cast(holiday_date as date) as holiday_date,
        min(holiday_name) as holiday_name
    from {{ ref('uk_bank_holidays') }}
    group by 1

),

parts as (

    select
        spine.date_day,
        cast(extract(year from spine.date_day) as integer) as year,
        cast(extract(quarter from spine.date_day) as integer) as quarter,
        cast(extract(month from spine.date_day) as integer) as month,
        cast(extract(day from spine.date_day) as integer) as day_of_month,
        cast(extract(doy from spine.date_day) as integer) as day_of_year,
        {{ iso_day_of_week('spine.date_day') }} as day_of_week,
        {{ iso_week_of_year('spine.date_day') }} as week_of_year,
        holidays.holiday_name
    from spine
    left join holidays
        on spine.date_day = holidays.holiday_date

),

final as (

    select
        date_day,
        year,
        quarter,
        month,
        day_of_month,
        day_of_year,
        day_of_week,
        week_of_year,
        day_of_week in (6, 7) as is_weekend,
        holiday_name is not null as is_uk_bank_holiday,
        holiday_name,
        case
            when date_day <= make_date(year, 12, 25)
                then {{ days_between('date_day', 'make_date(year, 12, 25)') }}
            else {{ days_between('date_day', 'make_date(year + 1, 12, 25)') }}
        end as days_to_christmas
    from parts

)

select * from final
