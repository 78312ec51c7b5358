-- One row per workspace, campaign and day with events (the daily analytics report; campaigns deleted in
-- Instantly left out), with the day's reply
-- rate and a rolling 7-day reply rate: unique replies / contacted leads over the 7 calendar days ending that
-- day.
-- requires: campaign_analytics_daily
-- optional: campaigns
with daily as (
    select
        d.workspace_id,
        d.workspace_name,
        d.campaign_id,
        d.date,
        cast(d.sent as bigint) as sent,
        cast(d.contacted as bigint) as contacted,
        cast(d.new_leads_contacted as bigint) as new_leads_contacted,
        cast(d.opened as bigint) as opens,
        cast(d.unique_opened as bigint) as unique_opens,
        cast(d.replies as bigint) as replies,
        cast(d.unique_replies as bigint) as unique_replies,
        cast(d.clicks as bigint) as clicks,
        cast(d.unique_clicks as bigint) as unique_clicks,
        cast(d.opportunities as bigint) as opportunities
    from {dataset}.campaign_analytics_daily d
    where d._deleted_at is null
),
rolling as (
    select
        daily.*,
        cast(sum(sent) over last_7_days as bigint) as sent_7d,
        cast(sum(contacted) over last_7_days as bigint) as contacted_7d,
        cast(sum(unique_replies) over last_7_days as bigint) as unique_replies_7d
    from daily
    window last_7_days as (
        partition by workspace_id, campaign_id
        order by date range between interval '6 days' preceding and current row
    )
)
select
    r.workspace_id,
    r.workspace_name,
    r.campaign_id,
    c.name as campaign_name,
    r.date,
    r.sent,
    r.contacted,
    r.new_leads_contacted,
    r.opens,
    r.unique_opens,
    r.replies,
    r.unique_replies,
    r.clicks,
    r.unique_clicks,
    r.opportunities,
    cast(r.unique_replies as double precision) / nullif(r.contacted, 0) as reply_rate,
    r.sent_7d,
    r.contacted_7d,
    r.unique_replies_7d,
    cast(r.unique_replies_7d as double precision) / nullif(r.contacted_7d, 0) as reply_rate_7d
from rolling r
left join {dataset}.campaigns c on {same_workspace:c,r} and c.id = r.campaign_id
