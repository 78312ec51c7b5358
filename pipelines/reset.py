"""`instantly-sync reset RESOURCE`: drop resources' tables and state so the next run syncs them afresh.

Where several workspaces share a dataset they share its tables, so every workspace's state for the resource
is dropped with them (else the others would resume from cursors that describe rows no longer there).
"""

from dlt.pipeline.helpers import pipeline_drop
from dlt.pipeline.pipeline import Pipeline

from destinations import models

from .sync import make_pipeline


def reset(targets, resources: list[str], pipelines_dir: str | None) -> list[str]:
    """Drop `resources` (their tables, child tables and state) in each target's pipeline; returns what was
    dropped, one line per pipeline."""
    lines = []
    for target in targets:
        pipeline = make_pipeline(target, pipelines_dir)
        pipeline.sync_destination()  # a fresh machine restores the state and schema from the warehouse
        if not pipeline.default_schema_name:
            lines.append(f"{pipeline.pipeline_name}: nothing synced yet, nothing to reset")
            continue
        _load_pending(pipeline)
        drop = pipeline_drop(pipeline, resources=resources)
        tables = list(drop.info["tables"])
        models.drop_views(pipeline)
        drop()
        lines.append(
            f"{pipeline.pipeline_name}: dropped {', '.join(tables) or 'no tables'} and the state of "
            f"{', '.join(resources)}"
        )
    return lines


def _load_pending(pipeline: Pipeline) -> None:
    """dlt refuses to drop while a crashed run's packages wait; they hold nothing the reset keeps."""
    if pipeline.has_pending_data:
        pipeline.normalize()
        pipeline.load()
