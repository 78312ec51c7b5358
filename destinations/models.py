"""Analytics models: tables rebuilt in the dataset after every sync, the same on DuckDB and Postgres.

Each model is one SQL file in `destinations/models/`: a plain `select` over the synced tables, written as
`{dataset}.<table>`, with a header of `--` comments whose first lines describe it and whose
`-- requires: a, b` and `-- optional: c, d` lines name the tables it reads. A model whose required table is
missing (its resource was never synced, or was dropped) is skipped with a note, and a stale copy of it is
dropped; a missing optional table (labels, campaign names, subjects) is read as an empty one, so the model
is built with those columns NULL.

Workspaces: where several workspaces share the dataset, its tables carry `workspace_id` and `workspace_name`
(see `sources.instantly`), and every model is built per workspace. The SQL is written once, for that case:
each model's first columns are `workspace_id, workspace_name`, and every group-by, window partition and
per-workspace bound (such as the latest day) includes `workspace_id`. Joins between two workspace tables
say `{same_workspace:a,b}`, which renders as `a.workspace_id = b.workspace_id` when the tables the model
reads carry `workspace_id`, and as `true` otherwise. A table without the column (every table of a
single-workspace dataset) is read as itself plus `workspace_id` and `workspace_name` NULL: a
single-workspace dataset gets the very rows it always got, with the two workspace columns NULL, so a
dashboard or a BI query written for one layout works on the other. Tables in `GLOBAL_TABLES`
(`enum_labels`) are the same for every workspace and are never joined by workspace.

Models are tables, not views: tables are what a dashboard or a BI tool reads fastest. Each is rebuilt in its
own transaction (drop, then create as select), so a reader sees the old or the new table, never none, and a
model that fails keeps its previous build. The few views (`VIEW_NAMES`, cheap reshapes such as
`lead_variables`) are created the same way; Postgres refuses to drop a table a view depends on, so
`drop_views` goes first wherever synced tables are dropped (reset, full refresh).

`{json_pairs:<json column>}` renders, per database, as a lateral subquery of (name, value) rows: one per key
of a JSON object (none for NULL or any other JSON), the value as text (strings as they are, JSON null as
NULL, other values as JSON text).
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).with_name("models")
MODEL_NAMES = (
    "campaign_performance",
    "campaign_daily",
    "step_performance",
    "lead_funnel",
    "account_health",
    "reply_activity",
    "lead_status_transitions",
    "account_health_trend",
)
"""Every model, in the order they are built (none reads another). The last two read the change history
(`destinations.history`)."""
VIEW_NAMES = ("lead_variables",)
"""Views: computed on read, never stale; created (again) after every sync like the models."""

WORKSPACE_COLUMNS = {"workspace_id": "varchar", "workspace_name": "varchar"}
"""The columns each table of a shared dataset carries (and a single-workspace table is read with, NULL)."""
GLOBAL_TABLES = frozenset({"enum_labels"})
"""Tables the same for every workspace: no workspace columns, never joined by workspace."""

_DLT_CHILD = {"_dlt_id": "varchar", "_dlt_parent_id": "varchar", "_dlt_list_idx": "bigint"}
STAND_INS: dict[str, dict[str, str]] = {
    "enum_labels": {"resource": "varchar", "column_name": "varchar", "value": "varchar", "label": "varchar"},
    "campaigns": {"id": "varchar", "name": "varchar", "_dlt_id": "varchar"},
    "campaigns__sequences": _DLT_CHILD,
    "campaigns__sequences__steps": _DLT_CHILD,
    "campaigns__sequences__steps__variants": {**_DLT_CHILD, "subject": "varchar"},
    "lead_labels": {"interest_status": "bigint", "label": "varchar"},
}
"""The columns models read from each optional table: what an empty stand-in for a missing one holds (with
`WORKSPACE_COLUMNS` too, unless the table is in `GLOBAL_TABLES`)."""

_TABLE_REF = re.compile(r"\{dataset\}\.(\w+)")
_SAME_WORKSPACE = re.compile(r"\{same_workspace:\s*(\w+)\s*,\s*(\w+)\s*\}")
_JSON_PAIRS = re.compile(r"\{json_pairs:\s*([\w.]+)\s*\}")
JSON_PAIRS: dict[str, str] = {
    "duckdb": (
        "(select key as name, case type when 'VARCHAR' then value->>'$' when 'NULL' then null "
        "else cast(value as varchar) end as value "
        "from json_each(case when json_type({0}) = 'OBJECT' then {0} end))"
    ),
    "postgres": (
        "(select key as name, value "
        "from jsonb_each_text(case when jsonb_typeof({0}) = 'object' then {0} end))"
    ),
}
"""`{json_pairs:column}` per SQL dialect (dlt's `sqlglot_dialect` of the destination)."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    requires: tuple[str, ...]
    optional: tuple[str, ...]
    sql: str

    @property
    def kind(self) -> str:
        return "view" if self.name in VIEW_NAMES else "table"

    @property
    def tables(self) -> tuple[str, ...]:
        return self.requires + self.optional

    def render(
        self,
        dataset: str,
        missing_optional: Iterable[str] = (),
        without_workspace: Iterable[str] = (),
        by_workspace: bool = False,
        dialect: str = "duckdb",
    ) -> str:
        """The model's select for a qualified dataset name: missing optional tables read as empty, tables
        `without_workspace` read with NULL workspace columns, and joins matching workspaces `by_workspace`."""
        missing, untagged = set(missing_optional), set(without_workspace)

        def table(match: re.Match[str]) -> str:
            name = match[1]
            if name in missing:
                return _stand_in(name)
            qualified = f"{dataset}.{name}"
            if name in untagged and name not in GLOBAL_TABLES:
                return f"(select *, {_nulls(WORKSPACE_COLUMNS)} from {qualified})"
            return qualified

        def same_workspace(match: re.Match[str]) -> str:
            return f"{match[1]}.workspace_id = {match[2]}.workspace_id" if by_workspace else "true"

        def json_pairs(match: re.Match[str]) -> str:
            return JSON_PAIRS[dialect].format(match[1])

        rendered = _SAME_WORKSPACE.sub(same_workspace, _TABLE_REF.sub(table, self.sql))
        return _JSON_PAIRS.sub(json_pairs, rendered)


@dataclass
class RefreshResult:
    built: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    """Views created (`VIEW_NAMES`)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Model -> why it was not built (missing tables, or the database's error)."""
    partial: dict[str, list[str]] = field(default_factory=dict)
    """Built model -> the optional tables that were missing (their columns are NULL)."""
    by_workspace: list[str] = field(default_factory=list)
    """Built models keyed by workspace (their tables carry `workspace_id`: several workspaces share them)."""

    def summary(self) -> str:
        lines = [
            f"models: {len(self.built)} built" + (f", {len(self.skipped)} skipped" if self.skipped else "")
        ]
        for name in self.built:
            note = f" (without {', '.join(self.partial[name])})" if name in self.partial else ""
            lines.append(f"  {name:<22} built{note}")
        lines += [f"  {name:<22} view" for name in self.views]
        lines += [f"  {name:<22} SKIPPED: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(lines)


def _nulls(kinds: dict[str, str]) -> str:
    return ", ".join(f"cast(null as {kind}) as {name}" for name, kind in kinds.items())


def _stand_in(table: str) -> str:
    kinds = STAND_INS[table] if table in GLOBAL_TABLES else {**WORKSPACE_COLUMNS, **STAND_INS[table]}
    return f"(select {_nulls(kinds)} where 1 = 0)"


def _parse(name: str, text: str) -> Model:
    description: list[str] = []
    lists: dict[str, tuple[str, ...]] = {"requires": (), "optional": ()}
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        comment = line[2:].strip()
        key, _, value = comment.partition(":")
        if key in lists:
            lists[key] = tuple(part.strip() for part in value.split(",") if part.strip())
        else:
            description.append(comment)
    unknown = [table for table in lists["optional"] if table not in STAND_INS]
    if unknown:
        raise ValueError(f"model {name}: optional tables without a stand-in in STAND_INS: {unknown}")
    undeclared = sorted(set(_TABLE_REF.findall(text)) - set(lists["requires"]) - set(lists["optional"]))
    if undeclared:  # an undeclared table would be read without the stand-in or the workspace columns
        raise ValueError(f"model {name}: tables read but not in `requires` or `optional`: {undeclared}")
    return Model(name, " ".join(description), lists["requires"], lists["optional"], text)


def load_models(names: Iterable[str] | None = None) -> list[Model]:
    known = (*MODEL_NAMES, *VIEW_NAMES)
    chosen = list(names) if names is not None else list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"unknown models {unknown}; known: {', '.join(known)}")
    return [_parse(name, (MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8")) for name in chosen]


def existing_tables(client: Any) -> set[str]:
    """Tables (and views) in the client's dataset."""
    rows = client.execute_sql(
        "select table_name from information_schema.tables where table_schema = %s", client.dataset_name
    )
    return {row[0] for row in rows or []}


def workspace_tables(client: Any) -> set[str]:
    """Tables in the client's dataset with a `workspace_id` column (several workspaces share the dataset)."""
    rows = client.execute_sql(
        "select table_name from information_schema.columns where table_schema = %s "
        "and column_name = 'workspace_id'",
        client.dataset_name,
    )
    return {row[0] for row in rows or []}


def refresh_client(client: Any, names: Iterable[str] | None = None) -> RefreshResult:
    """Rebuild the models on an open dlt SQL client (DuckDB or Postgres) of the synced dataset."""
    result = RefreshResult()
    dataset = client.fully_qualified_dataset_name()
    dialect = client.capabilities.sqlglot_dialect
    tables = existing_tables(client)
    tagged = workspace_tables(client)
    for model in load_models(names):
        target = client.make_qualified_table_name(model.name)
        missing = [table for table in model.requires if table not in tables]
        if missing:
            result.skipped[model.name] = f"missing table(s) {', '.join(missing)} (resource not synced)"
            if model.name in tables:
                client.execute_sql(f"drop {model.kind} if exists {target}")
            continue
        missing_optional = [table for table in model.optional if table not in tables]
        read = [table for table in model.tables if table in tables and table not in GLOBAL_TABLES]
        without_workspace = [table for table in read if table not in tagged]
        by_workspace = len(without_workspace) < len(read)
        if by_workspace and without_workspace:  # e.g. a table not synced since the dataset became shared
            logger.warning(
                "model %s: %s without workspace_id in a shared dataset (not synced since it became shared?): "
                "read with workspace_id NULL",
                model.name,
                ", ".join(without_workspace),
            )
        select = model.render(dataset, missing_optional, without_workspace, by_workspace, dialect)
        try:
            with client.begin_transaction():
                client.execute_sql(f"drop {model.kind} if exists {target}")
                client.execute_sql(f"create {model.kind} {target} as {select}")
        except Exception as exc:  # one broken model must not cost the others (nor the sync)
            reason = " ".join(str(exc).split())
            result.skipped[model.name] = f"{type(exc).__name__}: {reason}"
            logger.warning("model %s not rebuilt: %s", model.name, reason)
            continue
        if model.kind == "view":
            result.views.append(model.name)
            continue
        result.built.append(model.name)
        if by_workspace:
            result.by_workspace.append(model.name)
        if missing_optional:
            result.partial[model.name] = missing_optional
    return result


def drop_views(pipeline: Any) -> None:
    """Drop the views (`VIEW_NAMES`), which Postgres would not let dlt drop the synced tables under; the next
    refresh creates them again."""
    with pipeline.sql_client() as client:
        if client.has_dataset():
            for name in VIEW_NAMES:
                client.execute_sql(f"drop view if exists {client.make_qualified_table_name(name)}")


def refresh(pipeline: Any, names: Iterable[str] | None = None) -> RefreshResult:
    """Rebuild the models in a pipeline's dataset (after a sync)."""
    with pipeline.sql_client() as client:
        return refresh_client(client, names)
