{#- Lower-case hex SHA-256 of a text expression. -#}
{% macro sha256_hex(expr) -%}
    {{ return(adapter.dispatch('sha256_hex', 'trendcast')(expr)) }}
{%- endmacro %}

{% macro default__sha256_hex(expr) -%}
    sha256({{ expr }})
{%- endmacro %}

{% macro postgres__sha256_hex(expr) -%}
    encode(sha256(convert_to({{ expr }}, 'UTF8')), 'hex')
{%- endmacro %}


{#- Salted pseudonym of an identifier: sha256(salt || id) as lower-case hex; null stays null.
    The salt is read at run time from the one-row source secrets.pseudonymisation_salt (trendcast writes it
    before each dbt command), so no compiled SQL, artifact or log holds its value. Models calling this are
    tables, so readers of staging never need the secrets table. -#}
{% macro pseudonymise(expr) -%}
    case when {{ expr }} is null then null
         else {{ sha256_hex("(select salt from " ~ source('secrets', 'pseudonymisation_salt') ~ ") || " ~ expr) }}
    end
{%- endmacro %}
