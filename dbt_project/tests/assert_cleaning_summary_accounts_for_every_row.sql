-- Every received line is either removed as overlap / duplicate, or kept; every kept line is a sale,
-- a return or excluded: the counts must add up.
with summary as (
    select
        max(case when rule_name = 'raw_rows' then count_all_rows end) as raw_rows,
        max(case when rule_name = 'raw_rows' then count_kept_rows end) as kept_rows,
        max(case when rule_name = 'overlap_duplicate_rows' then count_all_rows end) as overlap_rows,
        max(case when rule_name = 'duplicate_rows' then count_all_rows end) as duplicate_rows,
        max(case when rule_name = 'sale_lines' then count_kept_rows end) as sale_lines,
        max(case when rule_name = 'return_rows' then count_kept_rows end) as return_rows,
        max(case when rule_name = 'excluded_rows' then count_kept_rows end) as excluded_rows
    from {{ ref('dq_cleaning_summary') }}
)
select *
from summary
where raw_rows <> kept_rows + overlap_rows + duplicate_rows
   or kept_rows <> sale_lines + return_rows + excluded_rows
