"""Human-readable summaries of a run and of the warehouse."""

from typing import Any

from dlt.pipeline.pipeline import Pipeline

from .sync import SyncResult, resource_states

SAMPLE_QUERY = """
select a.campaign_name,
       coalesce(l.label, cast(a.campaign_status as varchar)) as status,
       a.emails_sent_count as sent,
       a.reply_count_unique as replies,
       round(100.0 * a.reply_count_unique / nullif(a.contacted_count, 0), 1) as reply_rate_pct
from {dataset}.campaign_analytics a
left join {dataset}.enum_labels l
  on l.resource = 'campaign_analytics' and l.column_name = 'campaign_status'
 and l.value = cast(a.campaign_status as varchar)
order by sent desc
limit 5
"""


def summary(result: SyncResult) -> str:
    skipped = result.progress.skipped()
    partial = f"; PARTIAL: {len(skipped)} resource(s) skipped" if skipped else ""
    lines = [f"sync finished in {result.slices} slice(s){partial}"]
    for name, stats in result.progress.resources.items():
        if stats.skipped:
            lines.append(f"  {name:<12} SKIPPED: {stats.skipped}")
            continue
        lines.append(
            f"  {name:<12} requests={stats.requests:<6} pages={stats.pages:<6} "
            f"fetched={stats.rows_fetched:<8} written={result.rows_loaded.get(name, 0):<8} "
            f"rejected={stats.rejected} retries={stats.retries}"
        )
    return "\n".join(lines)


def _table_names(pipeline: Pipeline) -> list[str]:
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    if schema is None:
        return []
    return sorted(name for name in schema.data_table_names() if name != "_dlt_pipeline_state")


def table_counts(pipeline: Pipeline) -> str:
    names = _table_names(pipeline)
    if not names:
        return "no tables loaded yet"
    width = max(len(name) for name in names) + 2
    lines = [f"{'table':<{width}} rows"]
    with pipeline.sql_client() as client:
        for name in names:
            qualified = client.make_qualified_table_name(name)
            try:
                count = client.execute_sql(f"select count(*) from {qualified}")[0][0]
            except Exception:
                continue  # declared in the schema but never created (no rows yet)
            lines.append(f"{name:<{width}} {count}")
    return "\n".join(lines)


def sample_query(pipeline: Pipeline) -> str:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(SAMPLE_QUERY.format(dataset=client.fully_qualified_dataset_name()))
    lines = [
        "top campaigns by emails sent (campaign_analytics + enum_labels):",
        f"  {'campaign':<32} {'status':<20} {'sent':>7} {'replies':>8} {'reply rate':>10}",
    ]
    lines += [f"  {str(r[0])[:32]:<32} {str(r[1])[:20]:<20} {r[2]:>7} {r[3]:>8} {r[4]!s:>9}%" for r in rows]
    return "\n".join(lines)


def _cursor_line(name: str, state: dict[str, Any]) -> str:
    walk = state.get("walk")
    parts = [f"mark={state.get('mark', '-')}"]
    if walk:
        parts.append(f"walk in progress, resumes after {walk.get('cursor')!r}")
    return f"  {name:<12} " + ", ".join(parts)


def status(pipeline: Pipeline) -> str:
    if not pipeline.default_schema_name:
        pipeline.sync_destination()
    if not pipeline.default_schema_name:
        return f"pipeline {pipeline.pipeline_name}: nothing loaded yet"
    with pipeline.sql_client() as client:
        loads = client.execute_sql(
            f"select load_id, status, inserted_at from {client.make_qualified_table_name('_dlt_loads')} "
            "order by inserted_at desc limit 1"
        )
    where = f"{pipeline.destination.destination_name}:{pipeline.dataset_name}"
    lines = [f"pipeline {pipeline.pipeline_name} -> {where}"]
    if loads:
        load_id, load_status, inserted_at = loads[0]
        lines.append(f"last load: {load_id} at {inserted_at} (status {load_status})")
    lines.append(table_counts(pipeline))
    lines.append("stored cursors:")
    lines += [_cursor_line(name, state) for name, state in sorted(resource_states(pipeline).items())]
    return "\n".join(lines)
