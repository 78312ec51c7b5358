"""Summaries of a run (for people, and as JSON for machines) and of the warehouse."""

import json
from datetime import datetime
from typing import Any

from dlt.pipeline.pipeline import Pipeline

from .messages import describe_error
from .runs import RunReport, WorkspaceRun, run_rows
from .sync import resource_states

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


def summary(report: RunReport) -> str:
    """Per workspace: its status and where it went; per resource: the run's counters and cursors."""
    failed = [run.workspace.label for run in report.workspaces if run.error]
    lines = [f"run {report.run_id}: " + _outcome(report, failed)]
    for run in report.workspaces:
        lines.append(_workspace_line(run))
        if run.error:
            continue
        for row in run_rows(run, report):
            if row["status"] == "skipped":
                lines.append(f"  {row['resource']:<24} SKIPPED: {row['error']}")
                continue
            if row["status"] == "not_in_plan":
                lines.append(f"  {row['resource']:<24} not in the plan: {row['error']}")
                continue
            extras = f" parents_skipped={row['parents_skipped']}" if row["parents_skipped"] else ""
            extras += f" deleted={row['rows_deleted']}" if row["rows_deleted"] else ""
            extras += _fast_path(row)
            lines.append(
                f"  {row['resource']:<24} requests={row['requests']:<6} pages={row['pages']:<6} "
                f"extracted={row['rows_extracted']:<8} loaded={row['rows_loaded']:<8} "
                f"rejected={row['rejected']} retries={row['retries']}{extras} {row['duration_seconds']:.1f}s"
                + _cursor_change(row)
            )
            if row["status"] == "failed":
                lines.append(f"  {'':<24} FAILED: {row['error']}")
            if row["warnings"]:
                lines.append(f"  {'':<24} warning: {row['warnings']}")
    return "\n".join(lines)


def notices(report: RunReport) -> list[str]:
    """For stderr, per workspace whose run went on: each resource that failed, what follows, and what the run
    worked around (fan-out parents gone, walks ended early, resume cursors refused)."""
    lines = []
    for run in report.workspaces:
        if run.error:
            continue
        where = f"workspace {run.workspace.label}: " if run.workspace.name else ""
        for resource, stats in run.progress.resources.items():
            if stats.failed:
                lines.append(
                    f"{where}{resource} FAILED: {stats.failed}; the rest loaded, the next run resumes it"
                )
            if stats.parents_skipped:
                gone = stats.parents_skipped
                lines.append(
                    f"{where}{resource}: warning: skipped {gone} parent item(s) deleted during the sync"
                )
            lines += [f"{where}{resource}: warning: {warning}" for warning in stats.warnings]
    return lines


def _outcome(report: RunReport, failed: list[str]) -> str:
    went_on = [run for run in report.workspaces if not run.error]
    skipped = sum(len(run.progress.skipped()) for run in went_on)
    resources_failed = sum(len(run.progress.failed()) for run in went_on)
    parts = [f"{len(report.workspaces) - len(failed)} of {len(report.workspaces)} workspace(s) synced"]
    if failed:
        parts.append(f"FAILED: {', '.join(failed)}")
    if resources_failed:
        parts.append(f"PARTIAL: {resources_failed} resource(s) failed")
    if skipped:
        parts.append(f"PARTIAL: {skipped} resource(s) skipped")
    not_in_plan = sum(len(run.progress.not_in_plan()) for run in went_on)
    if not_in_plan:  # the plan's choice, not a partial sync
        parts.append(f"{not_in_plan} resource(s) not in the plan")
    return "; ".join(parts)


def _workspace_line(run: WorkspaceRun) -> str:
    where = f"{run.target.destination}:{run.target.dataset}"
    identity = f" (id {run.workspace_id})" if run.workspace_id else ""
    if run.error:
        return f"workspace {run.workspace.label}{identity} -> {where}: FAILED: {describe_error(run.error)}"
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    slices = run.result.slices if run.result else 0
    return (
        f"workspace {run.workspace.label}{identity} -> {where}: synced in {seconds:.1f}s, {slices} slice(s)"
    )


def _fast_path(row: dict[str, Any]) -> str:
    """The share of a batched resource's batches that reached dlt as Arrow tables (the fast path)."""
    batches = row["arrow_batches"] + row["dict_batches"]
    return f" arrow={row['arrow_batches']}/{batches}" if batches else ""


def _cursor_change(row: dict[str, Any]) -> str:
    if row["cursor_before"] == row["cursor_after"]:
        return ""
    return f" cursor {row['cursor_before'] or '-'} -> {row['cursor_after'] or '-'}"


def as_json(report: RunReport) -> str:
    """The same report for machines: one JSON object, datetimes as ISO 8601."""
    document = {
        "run_id": report.run_id,
        "exit_code": report.exit_code,
        "workspaces": [
            {
                "name": run.workspace.label,
                "workspace_id": run.workspace_id,
                "destination": run.target.destination,
                "dataset": run.target.dataset,
                "status": "failed" if run.error else "ok",
                "error": describe_error(run.error) if run.error else None,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "slices": run.result.slices if run.result else 0,
                "resources": run_rows(run, report),
            }
            for run in report.workspaces
        ],
    }
    return json.dumps(document, default=_iso, indent=2)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


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
