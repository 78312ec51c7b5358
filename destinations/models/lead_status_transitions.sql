-- One row per workspace and campaign, from the change history of live leads (`leads_history`: a lead
-- deleted in Instantly has no open version; a lead is counted in each campaign it had a version in): leads, and how many of them reached contacted (a first contact),
-- replied (a reply count above 0) and interested (interest status 1-4: Interested, Meeting Booked, Meeting
-- Completed, Won). first contact: the earliest `timestamp_last_contact` of its versions; first reply: the
-- `timestamp_last_reply` of its first version with replies (else that version's valid_from); interested at:
-- the valid_from of its first version with a positive interest status (of a lead already interested when
-- its history began: `timestamp_last_interest_change`). Median hours from first contact to first reply and
-- to interested, over the leads with both times in that order (their count beside each).
-- requires: leads_history
-- optional: campaigns
with versions as (
    select
        h.workspace_id,
        h.workspace_name,
        h.id as lead_id,
        h.campaign as campaign_id,
        h.contacted,
        h.email_reply_count,
        h.lt_interest_status,
        h.timestamp_last_contact,
        h.timestamp_last_reply,
        h.timestamp_last_interest_change,
        h.valid_from,
        row_number() over (partition by h.workspace_id, h.id order by h.valid_from, h._dlt_load_id) as version
    from {dataset}.leads_history h
    where exists (
        select 1 from {dataset}.leads_history o
        where {same_workspace:o,h} and o.id = h.id and o.valid_to is null
    )
),
per_lead as (
    select
        v.workspace_id,
        max(v.workspace_name) as workspace_name,
        v.campaign_id,
        v.lead_id,
        max(case when v.contacted then 1 else 0 end) as contacted,
        min(case when v.contacted then v.timestamp_last_contact end) as first_contact_at,
        max(case when v.email_reply_count > 0 then 1 else 0 end) as replied,
        min(case when v.email_reply_count > 0 then coalesce(v.timestamp_last_reply, v.valid_from) end)
            as first_reply_at,
        max(case when v.lt_interest_status between 1 and 4 then 1 else 0 end) as interested,
        min(
            case
                when v.lt_interest_status between 1 and 4 and v.version = 1
                then coalesce(v.timestamp_last_interest_change, v.valid_from)
                when v.lt_interest_status between 1 and 4 then v.valid_from
            end
        ) as interested_at
    from versions v
    group by v.workspace_id, v.campaign_id, v.lead_id
),
timed as (
    select
        p.*,
        case
            when p.first_reply_at >= p.first_contact_at
            then (date_part('epoch', p.first_reply_at) - date_part('epoch', p.first_contact_at)) / 3600.0
        end as hours_to_reply,
        case
            when p.interested_at >= p.first_contact_at
            then (date_part('epoch', p.interested_at) - date_part('epoch', p.first_contact_at)) / 3600.0
        end as hours_to_interested
    from per_lead p
),
grouped as (
    select
        t.workspace_id,
        max(t.workspace_name) as workspace_name,
        t.campaign_id,
        cast(count(*) as bigint) as leads,
        cast(sum(t.contacted) as bigint) as contacted,
        cast(sum(t.replied) as bigint) as replied,
        cast(sum(t.interested) as bigint) as interested,
        cast(count(t.hours_to_reply) as bigint) as timed_replies,
        cast(percentile_cont(0.5) within group (order by t.hours_to_reply) as double precision)
            as median_hours_to_reply,
        cast(count(t.hours_to_interested) as bigint) as timed_interested,
        cast(percentile_cont(0.5) within group (order by t.hours_to_interested) as double precision)
            as median_hours_to_interested
    from timed t
    group by t.workspace_id, t.campaign_id
)
select
    g.workspace_id,
    g.workspace_name,
    g.campaign_id,
    c.name as campaign_name,
    g.leads,
    g.contacted,
    g.replied,
    g.interested,
    g.timed_replies,
    g.median_hours_to_reply,
    g.timed_interested,
    g.median_hours_to_interested
from grouped g
left join {dataset}.campaigns c on {same_workspace:c,g} and c.id = g.campaign_id
