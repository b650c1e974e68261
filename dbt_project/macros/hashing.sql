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
    The salt comes from --vars or TRENDCAST_PSEUDONYMISATION_SALT and is never committed.
    It ends up in the compiled SQL, so models calling this are tables, not views. -#}
{% macro pseudonymise(expr) -%}
    {%- set salt = var('pseudonymisation_salt', env_var('TRENDCAST_PSEUDONYMISATION_SALT', '')) | string -%}
    {%- if execute and salt | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "No pseudonymisation salt: set TRENDCAST_PSEUDONYMISATION_SALT (trendcast sets it from Settings.salt())"
        ) }}
    {%- endif -%}
    case when {{ expr }} is null then null
         else {{ sha256_hex("'" ~ salt | replace("'", "''") ~ "' || " ~ expr) }}
    end
{%- endmacro %}
