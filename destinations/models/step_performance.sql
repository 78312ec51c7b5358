-- One row per workspace, live campaign, sequence step and variant (0-based, as the API numbers them; NULL for
-- events the API could not attribute): sent, replies, rates, the variant's subject, and the winning variant
-- of each step: the highest unique replies / sent among the step's variants with emails sent (ties: more
-- sent, then the lower variant), only where the step has two or more such variants.
-- requires: campaign_analytics_steps
-- optional: campaigns, campaigns__sequences, campaigns__sequences__steps, campaigns__sequences__steps__variants
with steps as (
    select
        s.workspace_id,
        s.workspace_name,
        s.campaign_id,
        case when s.step = 'unknown' then null else cast(s.step as integer) end as step,
        case when s.variant = 'unknown' then null else cast(s.variant as integer) end as variant,
        cast(s.sent as bigint) as sent,
        cast(s.opened as bigint) as opens,
        cast(s.unique_opened as bigint) as unique_opens,
        cast(s.replies as bigint) as replies,
        cast(s.unique_replies as bigint) as unique_replies,
        cast(s.clicks as bigint) as clicks,
        cast(s.unique_clicks as bigint) as unique_clicks,
        cast(s.opportunities as bigint) as opportunities
    from {dataset}.campaign_analytics_steps s
    where s._deleted_at is null
),
scored as (
    select
        steps.*,
        cast(unique_opens as double precision) / nullif(sent, 0) as open_rate,
        cast(unique_replies as double precision) / nullif(sent, 0) as reply_rate,
        cast(unique_clicks as double precision) / nullif(sent, 0) as click_rate,
        case when step is not null and sent > 0 then 1 else 0 end as competes
    from steps
),
ranked as (
    select
        scored.*,
        cast(sum(competes) over (partition by workspace_id, campaign_id, step) as bigint) as variants_in_step,
        row_number() over (
            partition by workspace_id, campaign_id, step, competes
            order by reply_rate desc nulls last, sent desc, variant
        ) as place
    from scored
),
winners as (
    select
        ranked.*,
        (competes = 1 and place = 1 and variants_in_step > 1) as is_winner
    from ranked
),
subjects as (
    select c.workspace_id, c.id as campaign_id, st._dlt_list_idx as step, v._dlt_list_idx as variant, v.subject
    from {dataset}.campaigns c
    join {dataset}.campaigns__sequences sq
        on {same_workspace:sq,c} and sq._dlt_parent_id = c._dlt_id and sq._dlt_list_idx = 0
    join {dataset}.campaigns__sequences__steps st on {same_workspace:st,sq} and st._dlt_parent_id = sq._dlt_id
    join {dataset}.campaigns__sequences__steps__variants v
        on {same_workspace:v,st} and v._dlt_parent_id = st._dlt_id
)
select
    w.workspace_id,
    w.workspace_name,
    w.campaign_id,
    c.name as campaign_name,
    w.step,
    w.variant,
    sub.subject,
    w.sent,
    w.opens,
    w.unique_opens,
    w.replies,
    w.unique_replies,
    w.clicks,
    w.unique_clicks,
    w.opportunities,
    w.open_rate,
    w.reply_rate,
    w.click_rate,
    w.variants_in_step,
    w.is_winner,
    max(case when w.is_winner then w.variant end) over (
        partition by w.workspace_id, w.campaign_id, w.step
    ) as winning_variant
from winners w
left join {dataset}.campaigns c on {same_workspace:c,w} and c.id = w.campaign_id
left join subjects sub
    on {same_workspace:sub,w} and sub.campaign_id = w.campaign_id and sub.step = w.step and sub.variant = w.variant
