-- Emails received (ue_type 2, "Received") per workspace, UTC day and campaign, from the emails table: all
-- received, automatic replies, still unread, and distinct leads replying. The day is the email's own
-- timestamp (`timestamp_email`, else `timestamp_created`). Replies outside any campaign have a NULL
-- campaign_id.
-- requires: emails
-- optional: campaigns
with received as (
    select
        e.workspace_id,
        e.workspace_name,
        cast(coalesce(e.timestamp_email, e.timestamp_created) at time zone 'UTC' as date) as date,
        e.campaign_id,
        e.lead,
        case when e.is_auto_reply = 1 then 1 else 0 end as is_auto_reply,
        case when e.is_unread = 1 then 1 else 0 end as is_unread
    from {dataset}.emails e
    where e.ue_type = 2
)
select
    r.workspace_id,
    max(r.workspace_name) as workspace_name,
    r.date,
    r.campaign_id,
    c.name as campaign_name,
    cast(count(*) as bigint) as received,
    cast(sum(r.is_auto_reply) as bigint) as auto_replies,
    cast(sum(r.is_unread) as bigint) as unread,
    cast(count(distinct r.lead) as bigint) as leads
from received r
left join {dataset}.campaigns c on {same_workspace:c,r} and c.id = r.campaign_id
group by r.workspace_id, r.date, r.campaign_id, c.name
