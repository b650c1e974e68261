-- One row per transaction file row that ingest rejected (key: batch_id, source_row).
-- The raw customer id is left out on purpose: nothing past raw exposes it.
with

source as (

    select * from {{ source('shop', 'transactions_quarantine') }}

),

renamed as (

    select
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_source_row as bigint) as source_row,
        _loaded_at as loaded_at,
        reason,
        column_name,
        invoice as invoice_text,
        stock_code as stock_code_text,
        quantity as quantity_text,
        invoice_date as invoice_date_text,
        price as price_text

    from source

)

select * from renamed
