-- Live leads (not deleted in Instantly) per workspace and campaign by lead status and interest status (`lt_interest_status`), with readable
-- labels (the spec's, else the workspace's custom lead labels) and each group's share of the campaign's
-- leads.
-- requires: leads
-- optional: campaigns, enum_labels, lead_labels
with custom_labels as (
    select ll.workspace_id, ll.interest_status, min(ll.label) as label
    from {dataset}.lead_labels ll
    group by ll.workspace_id, ll.interest_status
),
grouped as (
    select
        l.workspace_id,
        max(l.workspace_name) as workspace_name,
        l.campaign as campaign_id,
        l.status as lead_status,
        l.lt_interest_status as interest_status,
        cast(count(*) as bigint) as leads
    from {dataset}.leads l
    where l._deleted_at is null
    group by l.workspace_id, l.campaign, l.status, l.lt_interest_status
)
select
    g.workspace_id,
    g.workspace_name,
    g.campaign_id,
    c.name as campaign_name,
    g.lead_status,
    case
        when g.lead_status is null then '(none)'
        else coalesce(status_label.label, cast(g.lead_status as varchar))
    end as lead_status_label,
    g.interest_status,
    case
        when g.interest_status is null then '(none)'
        else coalesce(interest_label.label, custom.label, cast(g.interest_status as varchar))
    end as interest_status_label,
    g.leads,
    cast(g.leads as double precision)
        / cast(sum(g.leads) over (partition by g.workspace_id, g.campaign_id) as double precision)
        as share_of_campaign
from grouped g
left join {dataset}.campaigns c on {same_workspace:c,g} and c.id = g.campaign_id
left join {dataset}.enum_labels status_label
    on status_label.resource = 'leads'
    and status_label.column_name = 'status'
    and status_label.value = cast(g.lead_status as varchar)
left join {dataset}.enum_labels interest_label
    on interest_label.resource = 'leads'
    and interest_label.column_name = 'lt_interest_status'
    and interest_label.value = cast(g.interest_status as varchar)
left join custom_labels custom on {same_workspace:custom,g} and custom.interest_status = g.interest_status
