-- units_net and revenue_net are sold minus returned on every item-day.
select item_id, sale_date
from {{ ref('ml_item_daily_sales') }}
where units_net <> units_sold - units_returned
   or abs(revenue_net - (revenue_sold - revenue_returned)) > 0.005
