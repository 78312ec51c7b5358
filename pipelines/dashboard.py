"""`instantly-sync dashboard`: the analytics models as one web page, served locally or written to a file.

The page is self-contained: the charting library (uPlot 1.6.32, MIT, vendored in `dashboard_assets/`; see
`make vendor-uplot`), the page's own CSS and JS and the models' rows are inlined, so it works offline and
from a file, with nothing fetched from anywhere. It reads only the models of `destinations/models.py`,
opening a DuckDB file read-only (and only for the moment of reading, so a sync can run meanwhile) or
Postgres in a read-only session. Filters (campaign, date range) run in the browser over the embedded rows.
"""

import datetime as dt
import html
import json
import math
import sys
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from destinations import Target
from destinations.models import MODEL_NAMES
from sources.instantly.errors import ConfigError

ASSETS = Path(__file__).with_name("dashboard_assets")
# where several workspaces share the dataset, every model's rows are shown (and sorted) by workspace first
WORKSPACE = "workspace_name"
SORT_KEY = {
    "campaign_performance": ("campaign_id",),
    "campaign_daily": ("campaign_id", "date"),
    "step_performance": ("campaign_id", "step", "variant"),
    "lead_funnel": ("campaign_id", "lead_status", "interest_status"),
    "account_health": ("email",),
    "reply_activity": ("date", "campaign_id"),
    "lead_status_transitions": ("campaign_id",),
    "account_health_trend": ("email", "date"),
}
"""Each model's key: its rows are sent in this order (sorted here, not by the database, whose text
collation differs between engines), NULLs last."""
COLUMNS = {
    "campaign_performance": (
        "campaign_id", "campaign_name", "status_label", "leads", "sent", "bounces", "opportunities",
        "opportunity_value", "open_rate", "reply_rate", "bounce_rate",
    ),
    "campaign_daily": (
        "campaign_id", "date", "sent", "contacted", "unique_opens", "unique_replies", "opportunities",
    ),
    "step_performance": (
        "campaign_id", "step", "variant", "subject", "sent", "unique_replies", "open_rate",
        "reply_rate", "is_winner",
    ),
    "lead_funnel": (
        "campaign_id", "lead_status", "lead_status_label", "interest_status",
        "interest_status_label", "leads",
    ),
    "account_health": (
        "email", "status_label", "warmup_status_label", "warmup_score", "daily_limit", "window_start",
        "window_end", "sent_30d", "avg_daily_sent_30d", "bounce_rate_30d", "reply_rate_30d", "health",
    ),
    "reply_activity": ("date", "campaign_id", "received", "auto_replies"),
    "lead_status_transitions": (
        "campaign_id", "campaign_name", "leads", "contacted", "replied", "interested", "timed_replies",
        "median_hours_to_reply", "timed_interested", "median_hours_to_interested",
    ),
    "account_health_trend": (
        "email", "date", "status_label", "warmup_status_label", "warmup_score", "warmup_score_change_7d",
    ),
}  # fmt: skip
"""What the page shows of each model (all of it would repeat names on every daily row)."""


def _postgres_dsn(target: Target) -> str:
    if target.postgres_credentials:
        return target.postgres_credentials
    factory = target.factory()
    credentials = factory.configuration(None, accept_partial=True).credentials
    if credentials is None or not credentials.is_resolved():
        raise ConfigError(
            "missing configuration for the postgres destination: credentials. Set "
            "DESTINATION__POSTGRES__CREDENTIALS (or [destination.postgres.credentials] in .dlt/secrets.toml)"
        )
    return credentials.to_native_representation()


def _connect(target: Target) -> Any:
    """A DB-API connection that only reads: DuckDB opened read-only, or a read-only Postgres session."""
    if target.destination == "duckdb":
        import duckdb

        path = Path(target.duckdb_path)
        if not path.is_file():
            raise ConfigError(
                f"no warehouse at {path}: sync first (`instantly-sync run`, or `make demo` for a demo)"
            )
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise ConfigError(f"cannot open {path} read-only: {' '.join(str(exc).split())}") from None
    import psycopg2

    try:
        connection = psycopg2.connect(_postgres_dsn(target), connect_timeout=15)
    except psycopg2.Error as exc:
        raise ConfigError(f"cannot open the postgres destination: {' '.join(str(exc).split())}") from None
    connection.set_session(readonly=True, autocommit=True)
    return connection


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None  # rates: the page shows 0.1% at most
    return value


def _pack(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """`{"columns", "rows"}`, with text columns that repeat (campaign ids, days, labels) stored once in
    `dicts[column]` and their cells replaced by positions in it: a year of daily rows shrinks ~5x."""
    dicts: dict[str, list[str]] = {}
    for i, column in enumerate(columns):
        values = {row[i] for row in rows}
        if all(v is None or isinstance(v, str) for v in values) and 2 * len(values) < len(rows):
            lookup = sorted(v for v in values if v is not None)
            position = {value: k for k, value in enumerate(lookup)}
            for row in rows:
                row[i] = None if row[i] is None else position[row[i]]
            dicts[column] = lookup
    return {"columns": columns, "rows": rows, "dicts": dicts}


def read_models(target: Target) -> dict[str, Any]:
    """Every model present in the dataset: `{name: {"columns", "rows", "dicts"}}` (see `_pack`)."""
    target.validate()
    schema = target.dataset  # validated: a plain identifier
    connection = _connect(target)
    try:
        cursor = connection.cursor()
        cursor.execute(
            f"select table_name, column_name from information_schema.columns where table_schema = '{schema}'"
        )
        present: dict[str, set[str]] = {}
        for table, column in cursor.fetchall():
            present.setdefault(table, set()).add(column)
        models = {}
        for name in MODEL_NAMES:
            if name not in present:
                continue
            columns = [column for column in (WORKSPACE, *COLUMNS[name]) if column in present[name]]
            keys = [column for column in (WORKSPACE, *SORT_KEY[name]) if column in present[name]]
            listed = ", ".join(f'"{column}"' for column in keys + columns)
            cursor.execute(f'select {listed} from "{schema}"."{name}"')
            found = sorted(cursor.fetchall(), key=lambda row: [(v is None, v) for v in row[: len(keys)]])
            rows = [[_json_value(value) for value in row[len(keys) :]] for row in found]
            if columns[:1] == [WORKSPACE] and all(row[0] is None for row in rows):
                columns, rows = columns[1:], [row[1:] for row in rows]  # one workspace: nothing to tell apart
            models[name] = _pack(columns, rows)
        return models
    finally:
        connection.close()


def describe(target: Target) -> str:
    if target.destination == "duckdb":
        return f"DuckDB {Path(target.duckdb_path).name} · dataset {target.dataset}"
    return f"Postgres · schema {target.dataset}"


def payload(target: Target) -> dict[str, Any]:
    models = read_models(target)
    return {
        "source": describe(target),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "models": models,
        "missing": [name for name in MODEL_NAMES if name not in models],
    }


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _inline_script(text: str) -> str:
    """Text safe inside a <script> element: no `</script` (nor `<!--`) can end it early."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(data: dict[str, Any]) -> str:
    """The whole page, with the library, the app and `data` inlined."""
    # `<`, `>` and `&` escaped as \\u003c etc.: the JSON can never close its <script> element
    embedded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    embedded = embedded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = _asset("dashboard.html")
    title = html.escape(data.get("source", ""))
    for marker, value in (
        ("{{TITLE}}", title),
        ("{{UPLOT_CSS}}", _asset("uPlot.min.css")),
        ("{{APP_CSS}}", _asset("dashboard.css")),
        ("{{UPLOT_JS}}", _inline_script(_asset("uPlot.iife.min.js"))),
        ("{{APP_JS}}", _inline_script(_asset("dashboard.js"))),
        ("{{DATA}}", embedded),  # last: nothing replaces inside the data
    ):
        page = page.replace(marker, value, 1)
    return page


def write(target: Target, out: str | Path) -> Path:
    path = Path(out)
    path.write_text(render(payload(target)), encoding="utf-8")
    return path


class _Handler(BaseHTTPRequestHandler):
    target: Target  # set on the subclass made by make_server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        route = self.path.split("?", 1)[0]
        if route not in ("/", "/index.html", "/data.json"):
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")
            return
        try:
            data = payload(self.target)  # read on every request: a reload shows the latest sync
        except ConfigError as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", f"{exc}\n".encode())
            return
        if route == "/data.json":
            self._send(HTTPStatus.OK, "application/json", json.dumps(data).encode())
        else:
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", render(data).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        sys.stderr.write(f"dashboard: {self.address_string()} {format % args}\n")


def make_server(target: Target, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for the dashboard (not started: call `serve_forever`); port 0 picks a free one."""
    target.validate()
    handler = type("DashboardHandler", (_Handler,), {"target": target})
    return ThreadingHTTPServer((host, port), handler)
