-- One row per workspace and campaign (campaigns deleted in Instantly left out): lifetime totals of the campaign analytics report, with open, reply and
-- bounce rates. Rates: unique opens / contacted leads, unique replies / contacted leads, bounces / emails
-- sent.
-- requires: campaign_analytics
-- optional: enum_labels
select
    a.workspace_id,
    a.workspace_name,
    a.campaign_id,
    a.campaign_name,
    a.campaign_status as status,
    coalesce(status_label.label, cast(a.campaign_status as varchar)) as status_label,
    a.campaign_is_evergreen as is_evergreen,
    cast(a.leads_count as bigint) as leads,
    cast(a.contacted_count as bigint) as contacted,
    cast(a.new_leads_contacted_count as bigint) as new_leads_contacted,
    cast(a.emails_sent_count as bigint) as sent,
    cast(a.open_count as bigint) as opens,
    cast(a.open_count_unique as bigint) as unique_opens,
    cast(a.reply_count as bigint) as replies,
    cast(a.reply_count_unique as bigint) as unique_replies,
    cast(a.reply_count_automatic as bigint) as auto_replies,
    cast(a.link_click_count as bigint) as clicks,
    cast(a.link_click_count_unique as bigint) as unique_clicks,
    cast(a.bounced_count as bigint) as bounces,
    cast(a.unsubscribed_count as bigint) as unsubscribes,
    cast(a.completed_count as bigint) as completed,
    cast(a.total_opportunities as bigint) as opportunities,
    cast(a.total_opportunity_value as double precision) as opportunity_value,
    cast(a.open_count_unique as double precision) / nullif(a.contacted_count, 0) as open_rate,
    cast(a.reply_count_unique as double precision) / nullif(a.contacted_count, 0) as reply_rate,
    cast(a.link_click_count_unique as double precision) / nullif(a.contacted_count, 0) as click_rate,
    cast(a.bounced_count as double precision) / nullif(a.emails_sent_count, 0) as bounce_rate
from {dataset}.campaign_analytics a
left join {dataset}.enum_labels status_label
    on status_label.resource = 'campaign_analytics'
    and status_label.column_name = 'campaign_status'
    and status_label.value = cast(a.campaign_status as varchar)
where a._deleted_at is null
