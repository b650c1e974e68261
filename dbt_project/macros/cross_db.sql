{#- Small cross-database helpers (no dbt packages: hub.getdbt.com is not reachable). -#}

{#- True when a text expression matches a POSIX-style regular expression (search semantics). -#}
{% macro regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'trendcast')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_matches(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}


{#- Whole days from start_date to end_date (both dates), as an integer. -#}
{% macro days_between(start_date, end_date) -%}
    cast(cast({{ end_date }} as date) - cast({{ start_date }} as date) as integer)
{%- endmacro %}


{#- Add a whole number of days to a date, returning a date. -#}
{% macro add_days(date_expr, n_days) -%}
    {{ return(adapter.dispatch('add_days', 'trendcast')(date_expr, n_days)) }}
{%- endmacro %}

{% macro default__add_days(date_expr, n_days) -%}
    cast(cast({{ date_expr }} as date) + cast({{ n_days }} as integer) as date)
{%- endmacro %}


{#- One row per day, column date_day (date), from start_date to end_date inclusive.
    Both arguments are SQL expressions (they may be scalar subqueries). -#}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'trendcast')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
    select cast(spine.generated_at as date) as date_day
    from generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 day'
    ) as spine(generated_at)
{%- endmacro %}


{#- ISO day of week, 1 = Monday ... 7 = Sunday. -#}
{% macro iso_day_of_week(date_expr) -%}
    cast(extract(isodow from {{ date_expr }}) as integer)
{%- endmacro %}

{#- ISO week number (1-53). -#}
{% macro iso_week_of_year(date_expr) -%}
    cast(extract(week from {{ date_expr }}) as integer)
{%- endmacro %}


{#- Money stays exact (decimal) through aggregation, so DuckDB and PostgreSQL sum to the same value;
    marts cast the result to float8 once. -#}
{% macro to_money(expr) -%}
    cast({{ expr }} as decimal(18, 4))
{%- endmacro %}
