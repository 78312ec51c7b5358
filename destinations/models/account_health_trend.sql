-- One row per workspace, sending account and UTC day of the last 90 days (ending today) from the accounts'
-- change history (`accounts_history`): the status, warmup status and warmup score the account had at the end
-- of that day (its last version begun by then, carried forward), from the day of its first version on, and
-- the score's change since the day before and since 7 days before (NULL where the history does not reach
-- back that far). An account deleted in Instantly has no rows after the day it was found gone. "Whose warmup score fell this week": today's rows with warmup_score_change_7d < 0.
-- requires: accounts_history
-- optional: enum_labels
with days as (
    select cast(current_timestamp at time zone 'UTC' as date) - cast(n.i as integer) as date
    from generate_series(0, 89) as n(i)
),
versions as (
    select
        h.workspace_id,
        h.workspace_name,
        h.email,
        h.status,
        h.warmup_status,
        h.stat_warmup_score as warmup_score,
        h.daily_limit,
        h.valid_from,
        h._dlt_load_id,
        cast(h.valid_from at time zone 'UTC' as date) as from_day,
        cast(h.valid_to at time zone 'UTC' as date) as to_day
    from {dataset}.accounts_history h
),
daily as (
    select
        v.*,
        d.date,
        row_number() over (
            partition by v.workspace_id, v.email, d.date order by v.valid_from desc, v._dlt_load_id desc
        ) as pick
    from versions v
    join days d on d.date >= v.from_day and (v.to_day is null or d.date < v.to_day)
),
picked as (
    select * from daily where pick = 1
)
select
    p.workspace_id,
    p.workspace_name,
    p.email,
    p.date,
    p.status,
    coalesce(status_label.label, cast(p.status as varchar)) as status_label,
    p.warmup_status,
    coalesce(warmup_label.label, cast(p.warmup_status as varchar)) as warmup_status_label,
    p.warmup_score,
    p.daily_limit,
    p.warmup_score - day_before.warmup_score as warmup_score_change_1d,
    p.warmup_score - week_before.warmup_score as warmup_score_change_7d
from picked p
left join picked day_before
    on {same_workspace:day_before,p} and day_before.email = p.email and day_before.date = p.date - 1
left join picked week_before
    on {same_workspace:week_before,p} and week_before.email = p.email and week_before.date = p.date - 7
left join {dataset}.enum_labels status_label
    on status_label.resource = 'accounts'
    and status_label.column_name = 'status'
    and status_label.value = cast(p.status as varchar)
left join {dataset}.enum_labels warmup_label
    on warmup_label.resource = 'accounts'
    and warmup_label.column_name = 'warmup_status'
    and warmup_label.value = cast(p.warmup_status as varchar)
