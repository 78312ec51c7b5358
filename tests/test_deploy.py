"""The scheduling recipes in pipelines/deploy/: every `instantly-sync` command they run parses with the real
CLI parser, runs never overlap, secrets come from the environment, and the Airflow DAG's tasks run the CLI's
sync (tests/test_airflow.py runs the DAG in Airflow itself)."""

import configparser
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from destinations import Target
from pipelines.cli import _target, build_parser

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "pipelines" / "deploy"
WORKFLOW = DEPLOY / "github-actions" / "instantly-sync.yml"
SERVICE = DEPLOY / "systemd" / "instantly-sync.service"
TIMER = DEPLOY / "systemd" / "instantly-sync.timer"
CRONTAB = DEPLOY / "crontab"
DAG_FILE = DEPLOY / "airflow" / "instantly_dag.py"
INSTALL_DIR = "/opt/instantly-dlt"  # where the systemd and cron recipes expect the checkout
SECRETS = ("SOURCES__INSTANTLY__API_KEY", "DESTINATION__POSTGRES__CREDENTIALS")
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def is_operator(token: str) -> bool:
    return set(token) <= set("();<>|&") or token in ("{", "}")


def cli_invocations(shell: str) -> list[list[str]]:
    """The arguments of every `instantly-sync` command in a shell line (or an ExecStart value)."""
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    invocations = []
    for i, token in enumerate(tokens):
        if Path(token).name != "instantly-sync" or (i > 0 and not is_operator(tokens[i - 1])):
            continue  # not in command position (e.g. `logger -t instantly-sync`)
        argv: list[str] = []
        for arg in tokens[i + 1 :]:
            if is_operator(arg):
                if arg[0] in "<>" and argv and argv[-1].isdigit():
                    argv.pop()  # the "2" of "2>&1"
                break
            argv.append(arg)
        invocations.append(argv)
    return invocations


def parse(argv: list[str]):
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`instantly-sync {shlex.join(argv)}` does not parse with the CLI (exit {exc.code})")


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read(path, encoding="utf-8")
    return unit


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def workflow_triggers() -> dict:
    document = workflow()
    return document.get("on", document.get(True))  # YAML 1.1 reads the key `on` as True


def workflow_commands() -> list[list[str]]:
    steps = [step for job in workflow()["jobs"].values() for step in job["steps"]]
    return [argv for step in steps if "run" in step for argv in cli_invocations(step["run"])]


def crontab_entries() -> list[tuple[list[str], str]]:
    """(the five schedule fields, the command) of every job line."""
    entries = []
    for line in CRONTAB.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^\w+=", line):
            continue  # blank, comment, or an environment setting such as MAILTO=
        *fields, command = line.split(None, 5)
        entries.append((fields, command))
    return entries


def import_dag_module(monkeypatch) -> ModuleType:
    """Import the DAG file as Airflow's scheduler would, but with Airflow unimportable."""
    monkeypatch.setitem(sys.modules, "airflow", None)
    monkeypatch.delitem(sys.modules, "dlt.helpers.airflow_helper", raising=False)
    spec = importlib.util.spec_from_file_location("instantly_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# GitHub Actions


def test_workflow_runs_on_a_schedule_and_by_hand():
    triggers = workflow_triggers()
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert "workflow_dispatch" in triggers


def test_workflow_runs_never_overlap_and_never_cancel_a_sync():
    concurrency = workflow()["concurrency"]
    assert concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_workflow_takes_the_secrets_from_github_secrets_as_env_vars():
    env = workflow()["env"]
    assert {name: env.get(name) for name in SECRETS} == {
        name: f"${{{{ secrets.{name} }}}}" for name in SECRETS
    }


def test_workflow_installs_the_project_on_python():
    steps = workflow()["jobs"]["sync"]["steps"]
    assert any(step.get("uses", "").startswith("actions/setup-python@") for step in steps)
    assert any(step.get("run", "").startswith("pip install .") for step in steps)


def test_workflow_syncs_postgres_then_checks_freshness_with_parseable_commands():
    commands = [parse(argv) for argv in workflow_commands()]
    assert [args.command for args in commands] == ["run", "check"]
    assert all(args.destination == "postgres" for args in commands)


def test_workflow_checks_freshness_even_after_a_failed_sync():
    steps = workflow()["jobs"]["sync"]["steps"]
    check = next(step for step in steps if "instantly-sync check" in step.get("run", ""))
    assert "!cancelled()" in check["if"]


# systemd


def test_service_runs_a_parseable_sync_that_waits_for_a_running_one():
    service = read_unit(SERVICE)["Service"]
    [argv] = cli_invocations(service["ExecStart"])
    args = parse(argv)
    assert (args.command, args.destination, args.wait) == ("run", "postgres", True)
    assert service["Type"] == "oneshot"  # the timer does not start it again while it runs


def test_service_runs_in_the_checkout_holding_dlt_config_with_secrets_from_an_env_file():
    service = read_unit(SERVICE)["Service"]
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert (ROOT / ".dlt" / "config.toml").is_file()
    assert shlex.split(service["ExecStart"])[0] == f"{INSTALL_DIR}/.venv/bin/instantly-sync"
    assert service["EnvironmentFile"].startswith("/etc/")


def test_service_keeps_dlt_state_in_its_state_directory_the_only_writable_place():
    service = read_unit(SERVICE)["Service"]
    [argv] = cli_invocations(service["ExecStart"])
    state = f"/var/lib/{service['StateDirectory']}"
    assert parse(argv).pipelines_dir.startswith(f"{state}/")
    assert service["Environment"] == f"HOME={state}"  # dlt writes ~/.dlt; ProtectHome hides /home
    assert (service["ProtectSystem"], service["ProtectHome"]) == ("strict", "yes")


def test_timer_is_persistent_with_a_randomized_delay():
    timer = read_unit(TIMER)
    assert timer["Timer"]["OnCalendar"]
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"]
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_units_pass_systemd_analyze_verify(tmp_path):
    # systemd-analyze checks that ExecStart exists: point the units at this checkout, whose venv has it
    assert (ROOT / ".venv" / "bin" / "instantly-sync").exists(), "run `make install` first"
    for unit in (SERVICE, TIMER):
        text = unit.read_text(encoding="utf-8").replace(INSTALL_DIR, str(ROOT))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [shutil.which("systemd-analyze") or "systemd-analyze", "verify", SERVICE.name, TIMER.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")  # warnings (unknown keys) too


# cron


def test_crontab_lines_have_five_schedule_fields():
    entries = crontab_entries()
    assert entries
    for fields, _ in entries:
        assert len(fields) == 5 and all(CRON_FIELD.match(field) for field in fields), fields


def test_crontab_syncs_postgres_and_checks_freshness_with_parseable_commands():
    commands = [parse(argv) for _, command in crontab_entries() for argv in cli_invocations(command)]
    assert [args.command for args in commands] == ["run", "check"]
    assert all(args.destination == "postgres" for args in commands)
    assert "--max-age 2h" in CRONTAB.read_text(encoding="utf-8")


def test_crontab_sync_exits_when_the_previous_one_still_runs():
    commands = [argv for _, command in crontab_entries() for argv in cli_invocations(command)]
    [run] = [argv for argv in commands if argv[0] == "run"]
    assert parse(run).wait is False  # exit 4 instead of a pile of waiting processes


def test_crontab_commands_run_in_the_checkout_with_the_env_file_and_no_percent_sign():
    for _, command in crontab_entries():
        assert command.startswith(f"cd {INSTALL_DIR} && set -a && . ./instantly.env && set +a && ")
        assert "%" not in command  # cron turns % into a newline


# Airflow


def test_dag_module_imports_without_airflow_and_builds_no_dag(monkeypatch):
    monkeypatch.delenv("SOURCES__INSTANTLY__API_KEY", raising=False)
    module = import_dag_module(monkeypatch)
    assert module.dag is module.task is None
    assert not hasattr(module, "instantly_workspaces_dag")


def test_dag_task_runs_the_cli_sync_of_its_workspace_into_postgres_waiting_its_turn(monkeypatch, tmp_path):
    module = import_dag_module(monkeypatch)
    args = parse(module.run_arguments("acme", "agency", str(tmp_path)))
    assert (args.command, args.destination, args.dataset, args.workspaces) == (
        "run",
        "postgres",
        "agency",
        "acme",
    )
    assert args.wait and args.json and args.pipelines_dir == str(tmp_path)
    assert _target(args).pipeline_name == Target(destination="postgres", dataset="agency").pipeline_name


def test_dag_task_of_the_single_workspace_names_none(monkeypatch, tmp_path):
    module = import_dag_module(monkeypatch)
    monkeypatch.delenv("SOURCES__INSTANTLY__WORKSPACES", raising=False)
    assert module.workspace_names() == [None]
    assert parse(module.run_arguments(None, "instantly", str(tmp_path))).workspaces is None


def test_dag_task_fails_with_the_cli_exit_code_when_its_sync_fails(monkeypatch):
    module = import_dag_module(monkeypatch)
    monkeypatch.setenv("SOURCES__INSTANTLY__WORKSPACES", '{"acme": {"api_key": ""}}')  # a configuration error
    with pytest.raises(RuntimeError, match="workspace acme exited 2"):
        module.sync_workspace("acme", params={"dataset": "instantly"})
