-- One row per workspace and live sending account (not deleted in Instantly): status and warmup (with labels), warmup score, and over the
-- last 30 days (the 30 days ending at the workspace's latest day in account_analytics_daily): emails sent,
-- sent per day (over the days of the window the account existed), bounce rate (bounced / sent) and reply
-- rate (unique replies / contacted). health: 'critical' for an account in error (status < 0), a banned or
-- suspended warmup (warmup_status < 0) or a bounce rate of 5% or more; 'warning' for a bounce rate of 2% or
-- more or a warmup score under 80; else 'ok'.
-- requires: accounts, account_analytics_daily
-- optional: enum_labels
with bounds as (
    select d.workspace_id, max(d.date) - 29 as window_start, max(d.date) as window_end
    from {dataset}.account_analytics_daily d
    group by d.workspace_id
),
recent as (
    select
        d.workspace_id,
        d.email_account,
        cast(count(*) as bigint) as active_days,
        cast(sum(d.sent) as bigint) as sent_30d,
        cast(sum(d.bounced) as bigint) as bounced_30d,
        cast(sum(d.contacted) as bigint) as contacted_30d,
        cast(sum(d.unique_replies) as bigint) as unique_replies_30d
    from {dataset}.account_analytics_daily d
    join bounds b on {same_workspace:b,d} and d.date >= b.window_start and d.date <= b.window_end
    group by d.workspace_id, d.email_account
),
measured as (
    select
        a.workspace_id,
        a.workspace_name,
        a.email,
        a.status,
        a.warmup_status,
        a.stat_warmup_score as warmup_score,
        a.daily_limit,
        b.window_start,
        b.window_end,
        case
            when a.timestamp_created is null then 30
            else greatest(1, least(30, b.window_end - cast(a.timestamp_created at time zone 'UTC' as date) + 1))
        end as days_in_window,
        coalesce(r.active_days, 0) as active_days,
        coalesce(r.sent_30d, 0) as sent_30d,
        coalesce(r.bounced_30d, 0) as bounced_30d,
        coalesce(r.contacted_30d, 0) as contacted_30d,
        coalesce(r.unique_replies_30d, 0) as unique_replies_30d
    from {dataset}.accounts a
    left join bounds b on {same_workspace:b,a}
    left join recent r on {same_workspace:r,a} and r.email_account = a.email
    where a._deleted_at is null
),
rated as (
    select
        m.*,
        cast(m.sent_30d as double precision) / m.days_in_window as avg_daily_sent_30d,
        cast(m.bounced_30d as double precision) / nullif(m.sent_30d, 0) as bounce_rate_30d,
        cast(m.unique_replies_30d as double precision) / nullif(m.contacted_30d, 0) as reply_rate_30d
    from measured m
)
select
    r.workspace_id,
    r.workspace_name,
    r.email,
    r.status,
    coalesce(status_label.label, cast(r.status as varchar)) as status_label,
    r.warmup_status,
    coalesce(warmup_label.label, cast(r.warmup_status as varchar)) as warmup_status_label,
    r.warmup_score,
    r.daily_limit,
    r.window_start,
    r.window_end,
    cast(r.days_in_window as bigint) as days_in_window,
    r.active_days,
    r.sent_30d,
    r.bounced_30d,
    r.contacted_30d,
    r.unique_replies_30d,
    r.avg_daily_sent_30d,
    r.bounce_rate_30d,
    r.reply_rate_30d,
    case
        when r.status < 0 or r.warmup_status < 0 or r.bounce_rate_30d >= 0.05 then 'critical'
        when r.bounce_rate_30d >= 0.02 or r.warmup_score < 80 then 'warning'
        else 'ok'
    end as health
from rated r
left join {dataset}.enum_labels status_label
    on status_label.resource = 'accounts'
    and status_label.column_name = 'status'
    and status_label.value = cast(r.status as varchar)
left join {dataset}.enum_labels warmup_label
    on warmup_label.resource = 'accounts'
    and warmup_label.column_name = 'warmup_status'
    and warmup_label.value = cast(r.warmup_status as varchar)
