"""Sealed spool segments into `webhook_events_pushed`, merged on the payload's content hash.

The load goes through a dlt pipeline of its own (its own state and schema) into the sync's dataset, which it
shares as syncs do, loading in the dataset's turn (`pipelines.lock.turn`) between theirs. Segments are
deleted only after their load completed: a crash before that loads them again, and the merge on
`content_hash` makes the repeat harmless. Packages an earlier (killed or failed) load left are dropped, not
finished: the segments they came from are still in the spool.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.pipeline import Pipeline

from destinations import Target
from sources.instantly import settings
from sources.instantly.payloads import content_hash

from ..lock import datasets_locked, turn
from ..sync import remove_orphan_extracts
from .spool import Spool, read_segment

PIPELINE_SUFFIX = "_webhooks"
SCHEMA_NAME = "instantly_webhooks"
COLUMNS = {
    settings.CONTENT_HASH_COLUMN: {"data_type": "text", "nullable": False},
    "event_type": {"data_type": "text"},
    "payload": {"data_type": "json"},
    "received_at": {"data_type": "timestamp", "nullable": False},
}
logger = logging.getLogger(__name__)


@dataclass
class Loaded:
    events: int = 0  # rows written (distinct payloads)
    skipped: int = 0  # torn or corrupt spool lines, never acknowledged


def pipeline_name(target: Target) -> str:
    return target.pipeline_name + PIPELINE_SUFFIX


def spool_directory(target: Target, pipelines_dir: str) -> Path:
    """Beside the pipeline's working folder, not in it: dlt wipes that folder when the dataset is gone."""
    return Path(pipelines_dir) / f"{pipeline_name(target)}.spool"


def row(record: dict[str, Any]) -> dict[str, Any]:
    payload = record["payload"]
    return {
        settings.CONTENT_HASH_COLUMN: content_hash(payload),
        "event_type": payload.get("event_type"),
        "payload": payload,
        "received_at": record["received_at"],
    }


class SpoolLoader:
    def __init__(self, target: Target, pipelines_dir: str, spool: Spool) -> None:
        self.target = target
        self.spool = spool
        self.pipeline: Pipeline = dlt.pipeline(
            pipeline_name=pipeline_name(target),
            destination=target.factory(),
            dataset_name=target.dataset,
            pipelines_dir=pipelines_dir,
        )

    def load(self) -> Loaded:
        """Seal the segment being written and load every sealed one; raises when the load fails (the
        segments stay for the next attempt)."""
        segments = self.spool.seal()
        rows: dict[str, dict[str, Any]] = {}
        done = Loaded()
        for path in segments:
            contents = read_segment(path)
            done.skipped += contents.skipped
            for record in contents.records:
                found = row(record)
                rows[found[settings.CONTENT_HASH_COLUMN]] = found
        if done.skipped:
            logger.warning(
                "instantly-sync: %d torn or corrupt spool line(s) ignored (written when a process died, "
                "never acknowledged)",
                done.skipped,
            )
        if rows:
            self._load(list(rows.values()))
        self.spool.remove(segments)
        done.events = len(rows)
        return done

    def _load(self, rows: list[dict[str, Any]]) -> None:
        pipeline = self.pipeline
        with datasets_locked([self.target], wait=True, shared=True), turn(self.target):
            remove_orphan_extracts(pipeline)
            if pipeline.has_pending_data:  # `abort_packages` would make the next `run` load only them
                pipeline.drop_pending_packages()
            resource = dlt.resource(
                rows,
                name=settings.WEBHOOKS_PUSHED_TABLE,
                write_disposition="merge",
                primary_key=settings.CONTENT_HASH_COLUMN,
                columns=COLUMNS,
            )
            pipeline.run(
                resource, schema=dlt.Schema(SCHEMA_NAME), loader_file_format=self.target.loader_file_format
            ).raise_on_failed_jobs()
