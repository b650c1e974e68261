-- lag_N equals units_sold N days earlier (null before the first sale), for N in 1, 7, 14, 28.
{% for n in [1, 7, 14, 28] %}
select today.item_id, today.sale_date, {{ n }} as lag_days
from {{ ref('ml_item_daily_sales') }} as today
left join {{ ref('ml_item_daily_sales') }} as earlier
    on today.item_id = earlier.item_id
    and earlier.sale_date = {{ add_days('today.sale_date', -n) }}
where (earlier.item_id is null and today.lag_{{ n }} is not null)
   or (earlier.item_id is not null and (today.lag_{{ n }} is null or today.lag_{{ n }} <> earlier.units_sold))
{% if not loop.last %}union all{% endif %}
{% endfor %}
