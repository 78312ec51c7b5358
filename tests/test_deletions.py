"""Deletion detection: a walk that met the whole collection marks the rows whose key it did not meet."""

import signal

import duckdb
import pytest

from destinations.models import refresh
from pipelines.sync import make_pipeline
from sources.instantly.deletions import marks_deletions
from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME
from sources.simulator import Fault, Simulator, World

from .kill_after_commit import KILL_AFTER_COMMIT
from .killing import cli_env, run_args, run_to_end
from .test_workspaces import SIZES, configure, reader, sync_all

LEADS_PATH = ENDPOINTS_BY_NAME["leads"].path

DELETED = {"leads": 25, "campaigns": 2, "accounts": 1, "lead_lists": 1}
KEYS = {"leads": "id", "campaigns": "id", "accounts": "email", "lead_lists": "id"}


def deleted_keys(warehouse, table: str, key: str = "id") -> list:
    return sorted(
        row[0] for row in warehouse.query(f"select {key} from {{ds}}.{table} where _deleted_at is not null")
    )


def delete_some(world, counts: dict[str, int]) -> dict[str, list[str]]:
    """Delete the given number of items of each entity (every third one, so the gone ones are spread)."""
    gone = {}
    for entity, count in counts.items():
        gone[entity] = sorted(world.ids(entity)[::3][:count])
        world.remove(entity, gone[entity])
    return gone


def test_the_next_sync_marks_exactly_the_deleted_rows_and_leaves_every_live_row_null(warehouse, world):
    warehouse.sync(resources=list(DELETED))
    gone = delete_some(world, DELETED)
    result = warehouse.sync(resources=list(DELETED))
    for table, key in KEYS.items():
        assert deleted_keys(warehouse, table, key) == gone[table], table
        live = warehouse.query(f"select {key} from {{ds}}.{table} where _deleted_at is null")
        assert sorted(row[0] for row in live) == sorted(world.ids(table)), table
        assert result.progress.of(table).deleted == len(gone[table])


def test_deleted_at_is_when_the_walk_that_noticed_began(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["campaigns"])
    gone = delete_some(world, {"campaigns": 1})["campaigns"]
    before = world.now()
    duckdb_warehouse.sync(resources=["campaigns"])
    after = world.now()
    ((deleted_at,),) = duckdb_warehouse.query(
        f"select _deleted_at from {{ds}}.campaigns where id = '{gone[0]}'"
    )
    assert before.replace(microsecond=0) <= deleted_at <= after


def test_child_tables_follow_their_parent(warehouse, world):
    warehouse.sync(resources=["campaigns"])
    (gone,) = delete_some(world, {"campaigns": 1})["campaigns"]
    warehouse.sync(resources=["campaigns"])
    rows = warehouse.query(
        "select c.id, s._deleted_at is not null, s._deleted_at = c._deleted_at "
        "from {ds}.campaigns__sequences s join {ds}.campaigns c on s._dlt_root_id = c._dlt_id"
    )
    assert {campaign for campaign, marked, _ in rows if marked} == {gone}
    assert all(same for campaign, marked, same in rows if marked)


def restore(world, gone: dict[str, list[str]]) -> None:
    """Items deleted by `delete_some` are served again, unchanged (an item a walk missed once)."""
    for entity, keys in gone.items():
        store = world.stores[entity]
        store.removed.difference_update(store.index_of(key) for key in keys)


def test_a_row_whose_key_comes_back_is_live_again(warehouse, world):
    warehouse.sync(resources=["leads", "campaigns"])
    gone = delete_some(world, {"leads": 3, "campaigns": 1})
    warehouse.sync(resources=["leads", "campaigns"])
    restore(world, gone)
    warehouse.sync(resources=["leads", "campaigns"])
    assert deleted_keys(warehouse, "leads") == []
    assert deleted_keys(warehouse, "campaigns") == []


def test_hard_deletes_remove_a_row_and_its_child_rows_once_two_walks_in_a_row_missed_it(warehouse, world):
    warehouse.sync(resources=["campaigns", "leads"], deletes="hard")
    gone = delete_some(world, {"campaigns": 1, "leads": 4})
    warehouse.sync(resources=["campaigns", "leads"], deletes="hard")
    assert deleted_keys(warehouse, "leads") == gone["leads"]  # the first miss marks, as soft does
    warehouse.sync(resources=["campaigns", "leads"], deletes="hard")
    assert warehouse.keys("campaigns") == sorted(world.ids("campaigns"))
    assert warehouse.keys("leads") == sorted(world.ids("leads"))
    orphans = warehouse.query(
        "select count(*) from {ds}.campaigns__sequences s left join {ds}.campaigns c "
        "on s._dlt_root_id = c._dlt_id where c._dlt_id is null"
    )
    assert orphans == [(0,)]


def test_with_hard_deletes_a_lead_missed_once_is_not_lost(duckdb_warehouse, world):
    """An unchanged lead is never written again: removed after one miss, it would be gone for good."""
    duckdb_warehouse.sync(resources=["leads"], deletes="hard")
    missed = delete_some(world, {"leads": 2})["leads"]
    duckdb_warehouse.sync(resources=["leads"], deletes="hard")
    restore(world, {"leads": missed})
    duckdb_warehouse.sync(resources=["leads"], deletes="hard")
    duckdb_warehouse.sync(resources=["leads"], deletes="hard")
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))
    assert deleted_keys(duckdb_warehouse, "leads") == []


def test_soft_marks_switched_to_hard_are_removed(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["lead_lists"])
    delete_some(world, {"lead_lists": 1})
    duckdb_warehouse.sync(resources=["lead_lists"])
    duckdb_warehouse.sync(resources=["lead_lists"], deletes="hard")
    assert duckdb_warehouse.keys("lead_lists") == sorted(world.ids("lead_lists"))


def test_deletes_off_marks_nothing_but_keeps_the_column(warehouse, world):
    warehouse.sync(resources=["campaigns"], deletes="off")
    delete_some(world, {"campaigns": 1})
    warehouse.sync(resources=["campaigns"], deletes="off")
    assert deleted_keys(warehouse, "campaigns") == []
    assert warehouse.count("campaigns") == len(world.ids("campaigns")) + 1


def test_a_fan_out_marks_the_rows_of_deleted_parents(warehouse, world):
    warehouse.sync(resources=["account_campaign_mappings"])
    (account,) = delete_some(world, {"accounts": 1})["accounts"]
    warehouse.sync(resources=["account_campaign_mappings"])
    rows = warehouse.query(
        "select account_email, _deleted_at is not null from {ds}.account_campaign_mappings"
    )
    assert rows and all(marked == (email == account) for email, marked in rows)


def test_a_walk_checkpointed_in_slices_of_one_run_still_marks(warehouse, world):
    warehouse.sync(resources=["leads"])
    gone = delete_some(world, {"leads": 5})["leads"]
    result = warehouse.sync(resources=["leads"], checkpoint_seconds=0)
    assert result.slices >= 3  # 225 leads: a page a slice
    assert deleted_keys(warehouse, "leads") == gone


def test_a_walk_killed_midway_marks_nothing_nor_does_its_resumption_and_the_next_walk_does(
    tmp_path, simulator, world
):
    env = cli_env(simulator, checkpoint_seconds=0)
    args = run_args(tmp_path, "--resources", "leads")
    assert run_to_end(args, env, tmp_path).process.returncode == 0
    gone = delete_some(world, {"leads": 5})["leads"]
    world.update("leads", ids=world.ids("leads")[:2])  # the first slice writes rows, and is killed after

    def marked() -> list[str]:
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
            return [
                r[0]
                for r in db.sql(
                    "select id from instantly.leads where _deleted_at is not null order by 1"
                ).fetchall()
            ]

    killed = run_to_end(
        args,
        {**env, KILL_AFTER_COMMIT: "leads.parquet"},
        tmp_path,
        module="tests.kill_after_commit",
    )
    assert killed.process.returncode == -signal.SIGKILL, killed.stderr
    assert marked() == []
    resumed = run_to_end(args, env, tmp_path)  # loads the killed slice, then walks on from its cursor
    assert resumed.process.returncode == 0, resumed.stderr
    assert marked() == []
    assert run_to_end(args, env, tmp_path).process.returncode == 0
    assert marked() == gone


def test_a_failed_walk_marks_nothing(duckdb_warehouse, simulator, world):
    duckdb_warehouse.sync(resources=["leads", "campaigns"])
    delete_some(world, {"leads": 5, "campaigns": 1})
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=400, after_requests=1))
    result = duckdb_warehouse.sync(resources=["leads", "campaigns"])
    assert result.progress.of("leads").failed
    assert deleted_keys(duckdb_warehouse, "leads") == []
    assert len(deleted_keys(duckdb_warehouse, "campaigns")) == 1  # the other resource marks as usual


def test_a_walk_that_ended_early_marks_nothing(duckdb_warehouse, simulator, world):
    duckdb_warehouse.sync(resources=["leads"])
    delete_some(world, {"leads": 5})
    simulator.faults.add(Fault(path=LEADS_PATH, kind="stuck_cursor"))
    result = duckdb_warehouse.sync(resources=["leads"])
    assert result.progress.of("leads").warnings
    assert deleted_keys(duckdb_warehouse, "leads") == []


def test_in_a_shared_dataset_only_the_workspace_whose_items_went_gets_marks(
    monkeypatch, shared_target, tmp_path
):
    """Twin workspaces hold the very same ids: a lead deleted in one is still live in the other."""
    original, twin = World(seed=31, sizes=SIZES), World(seed=31, sizes=SIZES)
    twin.org_id = "twin-workspace"
    with Simulator(original, api_key="key-one") as one, Simulator(twin, api_key="key-two") as two:
        configure(monkeypatch, {"one": one, "two": two})
        sync_all(shared_target, tmp_path)
        gone = delete_some(original, {"leads": 6})["leads"]
        report = sync_all(shared_target, tmp_path)
        assert report.exit_code == 0
        rows = reader(shared_target, tmp_path, one).query(
            "select workspace_name, id from {ds}.leads where _deleted_at is not null order by id"
        )
    assert rows == [("one", key) for key in gone]


def test_the_open_history_version_of_a_deleted_row_closes_when_it_was_found_gone(warehouse, world):
    warehouse.sync(resources=["leads", "accounts"])
    gone = delete_some(world, {"leads": 3, "accounts": 1})
    warehouse.sync(resources=["leads", "accounts"])
    for table, key in (("leads", "id"), ("accounts", "email")):
        closed = warehouse.query(
            f"select h.{key} from {{ds}}.{table}_history h join {{ds}}.{table} t on t.{key} = h.{key} "
            f"where h.valid_to = t._deleted_at order by 1"
        )
        assert [row[0] for row in closed] == gone[table], table
        still_open = warehouse.query(f"select count(*) from {{ds}}.{table}_history where valid_to is null")
        assert still_open == [(len(world.ids(table)),)], table


def test_a_lead_that_comes_back_unchanged_has_its_history_version_open_again(warehouse, world):
    warehouse.sync(resources=["leads"])
    gone = delete_some(world, {"leads": 2})
    warehouse.sync(resources=["leads"])
    restore(world, gone)
    warehouse.sync(resources=["leads"])
    open_versions = warehouse.query(
        "select count(*), count(distinct id) from {ds}.leads_history where valid_to is null"
    )
    assert open_versions == [(len(world.ids("leads")), len(world.ids("leads")))]


def test_the_analytics_rows_of_a_deleted_campaign_follow_it(warehouse, world):
    reports = ["campaigns", "campaign_analytics", "campaign_analytics_daily", "campaign_analytics_steps"]
    warehouse.sync(resources=reports)
    (campaign,) = delete_some(world, {"campaigns": 1})["campaigns"]
    warehouse.sync(resources=reports)
    for table in reports[1:]:
        rows = warehouse.query(f"select campaign_id, _deleted_at is not null from {{ds}}.{table}")
        assert any(marked for _, marked in rows), table
        assert all(marked == (owner == campaign) for owner, marked in rows), table


def test_a_fan_out_whose_parent_rejected_an_item_marks_nothing(duckdb_warehouse, simulator, world):
    duckdb_warehouse.sync(resources=["account_campaign_mappings"])
    delete_some(world, {"accounts": 1})
    unreadable = world.ids("accounts")[0]

    def an_account_with_a_number_no_column_stores(body: bytes) -> bytes:
        return body.replace(
            f'"email":"{unreadable}"'.encode(), f'"email":"{unreadable}","x":{2**70}'.encode()
        )

    simulator.faults.add(
        Fault(path="/api/v2/accounts", kind="rewrite", body=an_account_with_a_number_no_column_stores)
    )
    result = duckdb_warehouse.sync(resources=["account_campaign_mappings"])
    assert result.progress.of("accounts").rejected == 1
    assert deleted_keys(duckdb_warehouse, "account_campaign_mappings", "account_email") == []


def test_a_sweep_the_database_refuses_rolls_back_alone_and_the_next_walk_marks(
    duckdb_warehouse, world, monkeypatch
):
    from destinations import deletions

    duckdb_warehouse.sync(resources=["campaigns", "lead_lists"])
    gone = delete_some(world, {"campaigns": 1, "lead_lists": 1})
    refuse = deletions._change

    def refused_for_campaigns(client, scope, action, table, rows, at, args):
        if scope.walk.table == "campaigns" and table == scope.table:
            raise RuntimeError("refused")
        refuse(client, scope, action, table, rows, at, args)

    monkeypatch.setattr(deletions, "_change", refused_for_campaigns)
    result = duckdb_warehouse.sync(resources=["campaigns", "lead_lists"])
    assert "its deleted rows were not marked (refused)" in result.progress.of("campaigns").warnings[0]
    assert deleted_keys(duckdb_warehouse, "campaigns") == []
    assert duckdb_warehouse.query(
        "select count(*) from {ds}.campaigns__sequences where _deleted_at is not null"
    ) == [(0,)]  # its child rows' marks rolled back with it
    assert deleted_keys(duckdb_warehouse, "lead_lists") == gone["lead_lists"]
    monkeypatch.setattr(deletions, "_change", refuse)
    duckdb_warehouse.sync(resources=["campaigns"])
    assert deleted_keys(duckdb_warehouse, "campaigns") == gone["campaigns"]


MODELED = ["campaigns", "accounts", "leads", "campaign_analytics", "account_analytics_daily"]


def test_models_leave_out_deleted_leads_campaigns_and_accounts(warehouse, world):
    warehouse.sync(resources=MODELED)
    gone = delete_some(world, {"campaigns": 1, "accounts": 1, "leads": 7})
    warehouse.sync(resources=MODELED)
    built = refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir)).built
    assert {"lead_funnel", "account_health", "campaign_performance"} <= set(built)
    (campaign,), (account,) = gone["campaigns"], gone["accounts"]
    assert warehouse.query("select sum(leads) from {ds}.lead_funnel") == [(len(world.ids("leads")),)]
    assert sorted(r[0] for r in warehouse.query("select email from {ds}.account_health")) == sorted(
        world.ids("accounts")
    )
    performance = [r[0] for r in warehouse.query("select campaign_id from {ds}.campaign_performance")]
    assert performance and campaign not in performance
    daily = [r[0] for r in warehouse.query("select distinct email_account from {ds}.account_analytics_daily")]
    assert account in daily  # the rows stay (marked): the models leave them out
    assert account not in [r[0] for r in warehouse.query("select email from {ds}.account_health")]


def an_empty_answer(body: bytes) -> bytes:
    return b'{"items": [], "next_starting_after": null}'


@pytest.mark.parametrize("deletes", ["soft", "hard"])
def test_an_api_answering_one_empty_list_loses_no_row(duckdb_warehouse, simulator, world, deletes):
    """A glitch that lists nothing looks like every lead deleted: soft marks them, and the next walk that
    meets them makes them live again; hard removes nothing on one such walk."""
    duckdb_warehouse.sync(resources=["leads"], deletes=deletes)
    simulator.faults.add(Fault(path=LEADS_PATH, kind="rewrite", body=an_empty_answer, times=1))
    duckdb_warehouse.sync(resources=["leads"], deletes=deletes)
    assert (
        len(deleted_keys(duckdb_warehouse, "leads"))
        == duckdb_warehouse.count("leads")
        == len(world.ids("leads"))
    )
    duckdb_warehouse.sync(resources=["leads"], deletes=deletes)
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))
    assert deleted_keys(duckdb_warehouse, "leads") == []


def test_time_window_resources_are_never_marked():
    windowed = {e.name for e in ENDPOINTS if e.cursor_field and e.window_param}
    assert windowed == {"emails", "audit_logs", "webhook_events"}
    assert not any(marks_deletions(e) for e in ENDPOINTS if e.name in windowed)


def test_an_unknown_deletes_setting_is_a_configuration_error(duckdb_warehouse):
    from sources.instantly.errors import ConfigError

    with pytest.raises(ConfigError, match="deletes 'sometimes' is not one of 'soft', 'hard', 'off'"):
        duckdb_warehouse.sync(resources=["campaigns"], deletes="sometimes")
