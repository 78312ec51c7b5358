"""The analytics models hold exactly what the simulator's data says, and the same on DuckDB and Postgres.

One small world (seed 11) is synced once per engine for the module; every expected figure is computed
here from the simulator (`World.items`, `campaign_totals`, `campaign_daily`, ...) and the spec's labels.

Workspaces: the same world and its twin (the same ids under another workspace id, its clock 5 days behind)
are also synced as two workspaces into one dataset, once per engine; each workspace's rows of every model
must be those a single-workspace sync of its world builds.
"""

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from destinations import Target
from destinations.models import MODEL_NAMES, RefreshResult, load_models, refresh
from pipelines.runs import run_workspaces
from pipelines.sync import SyncOptions, make_pipeline
from pipelines.workspaces import configured_workspaces
from sources.instantly.labels import enum_label_rows
from sources.simulator import Simulator, World

from .conftest import (
    FAST_RETRIES,
    POSTGRES_URL,
    SMALL_WORLD,
    Warehouse,
    drop_postgres_dataset,
    require_postgres,
)

RESOURCES = [
    "campaigns",
    "campaign_analytics",
    "campaign_analytics_daily",
    "campaign_analytics_steps",
    "leads",
    "lead_labels",
    "accounts",
    "account_analytics_daily",
    "emails",
    "enum_labels",
]
START = "2015-01-01"
TWIN_LAG_DAYS = 5
WORKSPACE_COLUMNS = ["workspace_id", "workspace_name"]


def _today() -> date:
    return datetime.now(UTC).date()


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _labels(resource: str, column: str) -> dict[str, str]:
    return {
        row["value"]: row["label"]
        for row in enum_label_rows()
        if row["resource"] == resource and row["column_name"] == column
    }


def _utc_day(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()


def _rows(
    warehouse: Warehouse, model: str, columns: list[str], key: list[str]
) -> dict[tuple, dict[str, Any]]:
    """The model's rows keyed by `key`, each as {column: value} (dates as ISO text)."""
    found = warehouse.query(f"select {', '.join(key + columns)} from {{ds}}.{model}")
    rows = {}
    for row in found:
        values = [str(v) if isinstance(v, date) else v for v in row]
        rows[tuple(values[: len(key)])] = dict(zip(columns, values[len(key) :], strict=True))
    assert len(rows) == len(found), f"{model}: {key} is not unique"
    return rows


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def model_world() -> World:
    return World(seed=11, sizes=SMALL_WORLD)


@pytest.fixture(scope="module")
def model_simulator(model_world: World) -> Iterator[Simulator]:
    with Simulator(model_world) as simulator:
        yield simulator


def _load(target: Target, pipelines_dir: Path, simulator: Simulator) -> Warehouse:
    warehouse = Warehouse(target, str(pipelines_dir), simulator)
    warehouse.sync(resources=RESOURCES)
    result = refresh(make_pipeline(target, str(pipelines_dir)))
    assert result.built == list(MODEL_NAMES), result.summary()
    assert not result.skipped and not result.partial
    return warehouse


@pytest.fixture(scope="module")
def duckdb_models(tmp_path_factory: pytest.TempPathFactory, model_simulator: Simulator) -> Warehouse:
    folder = tmp_path_factory.mktemp("models_duckdb")
    return _load(Target(duckdb_path=str(folder / "warehouse.duckdb")), folder / "pipelines", model_simulator)


@pytest.fixture(scope="module")
def postgres_models(
    tmp_path_factory: pytest.TempPathFactory, model_simulator: Simulator
) -> Iterator[Warehouse]:
    require_postgres()
    dataset = f"instantly_models_{uuid.uuid4().hex[:10]}"
    target = Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)
    try:
        yield _load(target, tmp_path_factory.mktemp("models_postgres") / "pipelines", model_simulator)
    finally:
        drop_postgres_dataset(dataset)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def models(request: pytest.FixtureRequest) -> Warehouse:
    """The synced world with its models built, once per engine."""
    return request.getfixturevalue(f"{request.param}_models")


# ------------------------------------------------------------------------------------------- models
def test_campaign_performance_is_the_lifetime_totals_with_rates(models, model_world):
    status = _labels("campaign_analytics", "campaign_status")
    expected = {}
    for row in model_world.campaign_totals(start=START, end=_today().isoformat()):
        expected[(row["campaign_id"],)] = {
            "campaign_name": row["campaign_name"],
            "status": row["campaign_status"],
            "status_label": status.get(str(row["campaign_status"]), str(row["campaign_status"])),
            "leads": row["leads_count"],
            "contacted": row["contacted_count"],
            "sent": row["emails_sent_count"],
            "unique_opens": row["open_count_unique"],
            "unique_replies": row["reply_count_unique"],
            "clicks": row["link_click_count"],
            "bounces": row["bounced_count"],
            "unsubscribes": row["unsubscribed_count"],
            "opportunities": row["total_opportunities"],
            "opportunity_value": row["total_opportunity_value"],
            "open_rate": _ratio(row["open_count_unique"], row["contacted_count"]),
            "reply_rate": _ratio(row["reply_count_unique"], row["contacted_count"]),
            "bounce_rate": _ratio(row["bounced_count"], row["emails_sent_count"]),
        }
    assert len(expected) == len(model_world.ids("campaigns"))
    columns = list(next(iter(expected.values())))
    assert _rows(models, "campaign_performance", columns, ["campaign_id"]) == expected


def test_campaign_daily_has_every_day_with_a_7_day_rolling_reply_rate(models, model_world):
    expected = {}
    for campaign in model_world.items("campaigns"):
        days = model_world.campaign_daily(campaign["id"], campaign["timestamp_created"][:10], _today())
        for row in days:
            day = date.fromisoformat(row["date"])
            week = [r for r in days if day - timedelta(days=6) <= date.fromisoformat(r["date"]) <= day]
            replies_7d, contacted_7d = (
                sum(r["unique_replies"] for r in week),
                sum(r["contacted"] for r in week),
            )
            expected[(campaign["id"], row["date"])] = {
                "campaign_name": campaign["name"],
                "sent": row["sent"],
                "contacted": row["contacted"],
                "unique_replies": row["unique_replies"],
                "reply_rate": _ratio(row["unique_replies"], row["contacted"]),
                "sent_7d": sum(r["sent"] for r in week),
                "unique_replies_7d": replies_7d,
                "contacted_7d": contacted_7d,
                "reply_rate_7d": _ratio(replies_7d, contacted_7d),
            }
    assert any(len(model_world.campaign_daily(c, None, _today())) for c in model_world.ids("campaigns"))
    columns = list(next(iter(expected.values())))
    assert _rows(models, "campaign_daily", columns, ["campaign_id", "date"]) == expected


def _subject(campaign: dict[str, Any], step: int | None, variant: int | None) -> str | None:
    try:
        return campaign["sequences"][0]["steps"][step]["variants"][variant].get("subject")
    except (KeyError, IndexError, TypeError):
        return None


def test_step_performance_names_the_winning_variant_of_each_step(models, model_world):
    expected = {}
    winners = 0
    for campaign in model_world.items("campaigns"):
        rows = model_world.campaign_steps(campaign["id"], START, _today())
        by_step = defaultdict(list)
        for row in rows:
            step = None if row["step"] is None else int(row["step"])
            variant = None if row["variant"] is None else int(row["variant"])
            if step is not None and row["sent"] > 0:
                by_step[step].append((row["unique_replies"] / row["sent"], row["sent"], -variant, variant))
        best = {step: max(entries)[3] for step, entries in by_step.items() if len(entries) > 1}
        winners += len(best)
        for row in rows:
            step = None if row["step"] is None else int(row["step"])
            variant = None if row["variant"] is None else int(row["variant"])
            expected[(campaign["id"], step, variant)] = {
                "campaign_name": campaign["name"],
                "subject": _subject(campaign, step, variant) if step is not None else None,
                "sent": row["sent"],
                "unique_replies": row["unique_replies"],
                "reply_rate": _ratio(row["unique_replies"], row["sent"]),
                "open_rate": _ratio(row["unique_opened"], row["sent"]),
                "variants_in_step": len(by_step.get(step, [])) if step is not None else 0,
                "is_winner": step is not None and best.get(step) == variant,
                "winning_variant": best.get(step) if step is not None else None,
            }
    assert winners, "the world should have steps with several variants"
    columns = list(next(iter(expected.values())))
    assert _rows(models, "step_performance", columns, ["campaign_id", "step", "variant"]) == expected


def test_lead_funnel_counts_leads_by_status_and_interest_with_labels(models, model_world):
    status, interest = _labels("leads", "status"), _labels("leads", "lt_interest_status")
    custom: dict[int, str] = {}
    for label in model_world.items("lead_labels"):
        code = label.get("interest_status")
        if code is not None:
            custom[code] = min(label["label"], custom.get(code, label["label"]))
    leads = model_world.items("leads")
    groups = Counter(
        (lead.get("campaign"), lead.get("status"), lead.get("lt_interest_status")) for lead in leads
    )
    per_campaign = Counter(lead.get("campaign") for lead in leads)

    def label(code: int | None, labels: dict[str, str], more: dict[int, str]) -> str:
        return "(none)" if code is None else labels.get(str(code)) or more.get(code) or str(code)

    names = {c["id"]: c["name"] for c in model_world.items("campaigns")}
    expected = {
        (campaign, lead_status, interest_status): {
            "campaign_name": names.get(campaign),
            "lead_status_label": label(lead_status, status, {}),
            "interest_status_label": label(interest_status, interest, custom),
            "leads": count,
            "share_of_campaign": count / per_campaign[campaign],
        }
        for (campaign, lead_status, interest_status), count in groups.items()
    }
    assert sum(row["leads"] for row in expected.values()) == len(leads)
    columns = list(next(iter(expected.values())))
    key = ["campaign_id", "lead_status", "interest_status"]
    assert _rows(models, "lead_funnel", columns, key) == expected


def test_account_health_covers_the_last_30_days_of_each_account(models, model_world):
    status, warmup = _labels("accounts", "status"), _labels("accounts", "warmup_status")
    accounts = model_world.items("accounts")
    daily = model_world.account_daily([a["email"] for a in accounts], START, _today())
    end = max(date.fromisoformat(row["date"]) for row in daily)
    start = end - timedelta(days=29)
    recent = [row for row in daily if start <= date.fromisoformat(row["date"]) <= end]
    expected = {}
    for account in accounts:
        mine = [row for row in recent if row["email_account"] == account["email"]]
        sent, bounced = sum(r["sent"] for r in mine), sum(r["bounced"] for r in mine)
        created = account.get("timestamp_created")
        days = 30 if not created else max(1, min(30, (end - date.fromisoformat(_utc_day(created))).days + 1))
        bounce_rate = _ratio(bounced, sent)
        code, warmup_code, score = (
            account.get("status"),
            account.get("warmup_status"),
            account.get("stat_warmup_score"),
        )
        if (
            (code is not None and code < 0)
            or (warmup_code is not None and warmup_code < 0)
            or (bounce_rate is not None and bounce_rate >= 0.05)
        ):
            health = "critical"
        elif (bounce_rate is not None and bounce_rate >= 0.02) or (score is not None and score < 80):
            health = "warning"
        else:
            health = "ok"
        expected[(account["email"],)] = {
            "status_label": None if code is None else status.get(str(code), str(code)),
            "warmup_status_label": None
            if warmup_code is None
            else warmup.get(str(warmup_code), str(warmup_code)),
            "warmup_score": score,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "days_in_window": days,
            "active_days": len(mine),
            "sent_30d": sent,
            "bounced_30d": bounced,
            "avg_daily_sent_30d": sent / days,
            "bounce_rate_30d": bounce_rate,
            "reply_rate_30d": _ratio(
                sum(r["unique_replies"] for r in mine), sum(r["contacted"] for r in mine)
            ),
            "health": health,
        }
    assert len({row["health"] for row in expected.values()}) > 1  # the world has accounts of several kinds
    columns = list(next(iter(expected.values())))
    assert _rows(models, "account_health", columns, ["email"]) == expected


def test_reply_activity_counts_received_emails_per_day_and_campaign(models, model_world):
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for email in model_world.items("emails"):
        if email.get("ue_type") == 2:
            day = _utc_day(email.get("timestamp_email") or email["timestamp_created"])
            groups[(day, email.get("campaign_id"))].append(email)
    names = {c["id"]: c["name"] for c in model_world.items("campaigns")}
    expected = {
        key: {
            "campaign_name": names.get(key[1]),
            "received": len(emails),
            "auto_replies": sum(1 for e in emails if e.get("is_auto_reply") == 1),
            "unread": sum(1 for e in emails if e.get("is_unread") == 1),
            "leads": len({e["lead"] for e in emails if e.get("lead") is not None}),
        }
        for key, emails in groups.items()
    }
    assert expected
    columns = list(next(iter(expected.values())))
    assert _rows(models, "reply_activity", columns, ["date", "campaign_id"]) == expected


def test_every_model_holds_the_same_rows_on_duckdb_and_postgres(duckdb_models, postgres_models):
    for name in MODEL_NAMES:
        columns = [
            row[0]
            for row in duckdb_models.query(
                f"select column_name from information_schema.columns where table_schema = 'instantly' "
                f"and table_name = '{name}' order by ordinal_position"
            )
        ]
        select = f"select {', '.join(columns)} from {{ds}}.{name}"
        on_duckdb, on_postgres = duckdb_models.query(select), postgres_models.query(select)
        assert on_duckdb, name
        assert sorted(on_duckdb, key=repr) == sorted(on_postgres, key=repr), name
        pg_columns = postgres_models.query(
            "select column_name from information_schema.columns where table_schema = current_schema() "
            f"and table_name = '{name}' order by ordinal_position"
        )
        assert [row[0] for row in pg_columns] == columns, name


# ------------------------------------------------------------------------------- missing tables
def test_a_model_whose_table_is_not_synced_is_skipped_and_missing_labels_read_as_codes(
    duckdb_warehouse, world
):
    duckdb_warehouse.sync(resources=["campaign_analytics", "campaign_analytics_daily"])
    pipeline = make_pipeline(duckdb_warehouse.target, duckdb_warehouse.pipelines_dir)
    result = refresh(pipeline)
    assert result.built == ["campaign_performance", "campaign_daily"]
    assert result.partial == {"campaign_performance": ["enum_labels"], "campaign_daily": ["campaigns"]}
    skipped = {"step_performance", "lead_funnel", "account_health", "reply_activity", "lead_variables"}
    skipped |= {"lead_status_transitions", "account_health_trend"}  # no leads or accounts, no history
    assert set(result.skipped) == skipped
    assert "campaign_analytics_steps" in result.skipped["step_performance"]
    assert "SKIPPED" in result.summary()
    labels = duckdb_warehouse.query("select status, status_label from {ds}.campaign_performance")
    assert labels and all(label == str(code) for code, label in labels)
    assert duckdb_warehouse.query(
        "select count(*) from {ds}.campaign_daily where campaign_name is not null"
    ) == [(0,)]

    # a table that disappears takes its stale model with it
    with pipeline.sql_client() as client:
        client.execute_sql(f"drop table {client.make_qualified_table_name('campaign_analytics_daily')}")
    again = refresh(pipeline)
    assert "campaign_daily" in again.skipped
    tables = {row[0] for row in duckdb_warehouse.query("select table_name from information_schema.tables")}
    assert "campaign_daily" not in tables and "campaign_performance" in tables


def test_a_full_refresh_on_postgres_is_not_blocked_by_the_models(postgres_warehouse):
    postgres_warehouse.sync(resources=["campaign_analytics"])
    pipeline = make_pipeline(postgres_warehouse.target, postgres_warehouse.pipelines_dir)
    assert "campaign_performance" in refresh(pipeline).built
    postgres_warehouse.sync(resources=["campaign_analytics"], full_refresh=True)  # drops the table first
    assert "campaign_performance" in refresh(pipeline).built
    assert postgres_warehouse.count("campaign_performance") == postgres_warehouse.count("campaign_analytics")


# ----------------------------------------------------------------------------------- workspaces
@pytest.fixture(scope="module")
def twin_simulator() -> Iterator[Simulator]:
    """The models' world again under another workspace id: the same account emails and campaign ids, with
    its clock TWIN_LAG_DAYS behind, so its daily reports end (and its 30-day window closes) earlier, and a
    few leads and emails of its own, so its lead funnel and replies differ too."""
    twin = World(seed=11, sizes=SMALL_WORLD)
    twin.org_id = str(uuid.uuid4())
    twin.advance(-TWIN_LAG_DAYS * 86_400)
    twin.add("leads", 12)
    twin.add("emails", 20)
    with Simulator(twin, api_key="key-twin") as simulator:
        yield simulator


@pytest.fixture(scope="module")
def workspaces(model_simulator: Simulator, twin_simulator: Simulator) -> dict[str, Simulator]:
    """Workspace name -> its simulator: `one` is the models' world, `two` its twin."""
    assert model_simulator.world.workspace()["id"] != twin_simulator.world.workspace()["id"]
    return {"one": model_simulator, "two": twin_simulator}


@pytest.fixture(scope="module")
def twin_single(tmp_path_factory: pytest.TempPathFactory, twin_simulator: Simulator) -> Warehouse:
    """The twin synced alone (single-workspace mode), its models built: what workspace `two` must hold."""
    folder = tmp_path_factory.mktemp("models_twin")
    return _load(Target(duckdb_path=str(folder / "warehouse.duckdb")), folder / "pipelines", twin_simulator)


def _sync_workspaces(
    target: Target, pipelines_dir: Path, workspaces: dict[str, Simulator], resources: list[str]
) -> tuple[Warehouse, RefreshResult]:
    """Sync every workspace into the target's one dataset (as `instantly-sync run` does), then build the
    models; returns a reader of the dataset and the models' RefreshResult."""
    mapping = {name: {"api_key": sim.api_key, "base_url": sim.base_url} for name, sim in workspaces.items()}
    options = SyncOptions(
        target=target,
        resources=resources,
        pipelines_dir=str(pipelines_dir),
        progress_interval=0,
        source_args=dict(FAST_RETRIES),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__INSTANTLY__WORKSPACES", json.dumps(mapping))
        report = run_workspaces(options, configured_workspaces())
        assert report.exit_code == 0, [run.error for run in report.workspaces]
        result = refresh(report.workspaces[0].result.pipeline)
    return Warehouse(target, str(pipelines_dir), workspaces["one"]), result


def _load_shared(target: Target, pipelines_dir: Path, workspaces: dict[str, Simulator]) -> Warehouse:
    warehouse, result = _sync_workspaces(target, pipelines_dir, workspaces, RESOURCES)
    assert result.built == list(MODEL_NAMES), result.summary()
    assert result.by_workspace == list(MODEL_NAMES)
    assert not result.skipped and not result.partial
    return warehouse


@pytest.fixture(scope="module")
def duckdb_shared(tmp_path_factory: pytest.TempPathFactory, workspaces: dict[str, Simulator]) -> Warehouse:
    folder = tmp_path_factory.mktemp("models_shared_duckdb")
    target = Target(duckdb_path=str(folder / "warehouse.duckdb"))
    return _load_shared(target, folder / "pipelines", workspaces)


@pytest.fixture(scope="module")
def postgres_shared(
    tmp_path_factory: pytest.TempPathFactory, workspaces: dict[str, Simulator]
) -> Iterator[Warehouse]:
    require_postgres()
    dataset = f"instantly_models_ws_{uuid.uuid4().hex[:10]}"
    target = Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)
    pipelines_dir = tmp_path_factory.mktemp("models_shared_postgres") / "pipelines"
    try:
        yield _load_shared(target, pipelines_dir, workspaces)
    finally:
        drop_postgres_dataset(dataset)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def shared_models(request: pytest.FixtureRequest) -> Warehouse:
    """Workspaces `one` and `two` synced into one dataset with the models built, once per engine."""
    return request.getfixturevalue(f"{request.param}_shared")


def _columns(warehouse: Warehouse, model: str) -> list[str]:
    found = warehouse.query(
        "select column_name from information_schema.columns where "
        f"table_schema = '{warehouse.target.dataset}' and table_name = '{model}' order by ordinal_position"
    )
    return [row[0] for row in found]


def _workspace_rows(warehouse: Warehouse, model: str, workspace_id: str | None) -> list[tuple]:
    """The model's rows of one workspace (NULL: a single-workspace dataset), without the workspace
    columns, in a fixed order."""
    columns = [c for c in _columns(warehouse, model) if c not in WORKSPACE_COLUMNS]
    where = "workspace_id is null" if workspace_id is None else f"workspace_id = '{workspace_id}'"
    return sorted(warehouse.query(f"select {', '.join(columns)} from {{ds}}.{model} where {where}"), key=repr)


def _workspace_id(simulator: Simulator) -> str:
    return simulator.world.workspace()["id"]


def test_in_a_shared_dataset_every_model_starts_with_the_workspace_and_names_it(shared_models, workspaces):
    expected = sorted((_workspace_id(sim), name) for name, sim in workspaces.items())
    for name in MODEL_NAMES:
        assert _columns(shared_models, name)[:2] == WORKSPACE_COLUMNS, name
        found = shared_models.query(f"select distinct workspace_id, workspace_name from {{ds}}.{name}")
        assert sorted(found) == expected, name


def test_in_a_single_workspace_dataset_the_workspace_columns_come_first_and_are_null(models):
    for name in MODEL_NAMES:
        assert _columns(models, name)[:2] == WORKSPACE_COLUMNS, name
        tagged = models.query(
            f"select count(*) from {{ds}}.{name} where workspace_id is not null or workspace_name is not null"
        )
        assert tagged == [(0,)] and models.count(name) > 0, name


def test_account_health_has_one_row_per_workspace_and_account_each_over_its_own_30_days(
    shared_models, workspaces, duckdb_models, twin_single
):
    one, two = _workspace_id(workspaces["one"]), _workspace_id(workspaces["two"])
    accounts = workspaces["one"].world.items("accounts")
    rows = _rows(shared_models, "account_health", ["window_end", "sent_30d"], ["workspace_id", "email"])
    emails = {a["email"] for a in accounts}
    assert set(rows) == {(ws, email) for ws in (one, two) for email in emails}  # the same emails, twice
    ends = {ws: {row["window_end"] for (w, _), row in rows.items() if w == ws} for ws in (one, two)}
    (end_one,), (end_two,) = ends[one], ends[two]
    lag = date.fromisoformat(end_one) - date.fromisoformat(end_two)
    assert lag == timedelta(days=TWIN_LAG_DAYS)  # each workspace's window ends at its own latest day
    assert _workspace_rows(shared_models, "account_health", one) == _workspace_rows(
        duckdb_models, "account_health", None
    )
    assert _workspace_rows(shared_models, "account_health", two) == _workspace_rows(
        twin_single, "account_health", None
    )


# the twin's accounts are the very same (only its clock lags), so their history and trend are too
PER_ACCOUNT = ("account_health", "account_health_trend")


def test_each_workspace_holds_the_account_trend_a_single_workspace_sync_of_its_world_builds(
    shared_models, workspaces, duckdb_models, twin_single
):
    one, two = _workspace_id(workspaces["one"]), _workspace_id(workspaces["two"])
    own_one = _workspace_rows(duckdb_models, "account_health_trend", None)
    assert own_one
    assert _workspace_rows(shared_models, "account_health_trend", one) == own_one
    assert _workspace_rows(shared_models, "account_health_trend", two) == _workspace_rows(
        twin_single, "account_health_trend", None
    )


@pytest.mark.parametrize("model", [name for name in MODEL_NAMES if name not in PER_ACCOUNT])
def test_each_workspace_holds_the_campaign_rows_a_single_workspace_sync_of_its_world_builds(
    model, shared_models, workspaces, duckdb_models, twin_single
):
    one, two = _workspace_id(workspaces["one"]), _workspace_id(workspaces["two"])
    own_one, own_two = _workspace_rows(duckdb_models, model, None), _workspace_rows(twin_single, model, None)
    assert own_one and own_two and own_one != own_two  # the twin's figures differ: a mix-up would show
    assert _workspace_rows(shared_models, model, one) == own_one
    assert _workspace_rows(shared_models, model, two) == own_two


def test_a_missing_optional_table_in_a_shared_dataset_reads_as_empty_with_the_workspace_columns(
    workspaces, tmp_path
):
    target = Target(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    resources = ["campaign_analytics_daily"]
    warehouse, result = _sync_workspaces(target, tmp_path / "pipelines", workspaces, resources)
    assert result.built == ["campaign_daily"] and result.by_workspace == ["campaign_daily"]
    assert result.partial == {"campaign_daily": ["campaigns"]}
    found = warehouse.query(
        "select workspace_name, count(*), count(campaign_name) from {ds}.campaign_daily group by 1 order by 1"
    )
    assert [(name, named) for name, _, named in found] == [("one", 0), ("two", 0)]
    assert all(rows > 0 for _, rows, _ in found)


def test_a_model_reading_a_table_it_does_not_declare_is_refused(tmp_path, monkeypatch):
    (tmp_path / "campaign_performance.sql").write_text(
        "-- requires: campaign_analytics\nselect * from {dataset}.campaign_analytics a "
        "join {dataset}.campaigns c on {same_workspace:c,a} and c.id = a.campaign_id\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("destinations.models.MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"not in `requires` or `optional`: \['campaigns'\]"):
        load_models(["campaign_performance"])
