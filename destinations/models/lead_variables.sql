-- One row per key of each live lead's custom variables (`leads.payload`): the key as `name`, the value as text
-- (strings as they are, JSON null as NULL, other values as JSON text). A view, so it always reads the current
-- leads.
-- requires: leads
select
    l.workspace_id,
    l.workspace_name,
    l.id as lead_id,
    v.name,
    v.value
from {dataset}.leads l
cross join lateral {json_pairs:l.payload} v
where l._deleted_at is null
