"""The Airflow recipe, run by Airflow itself: `airflow dags test` maps one task per configured workspace, each
syncing its workspace from a simulator into the shared Postgres dataset as `instantly-sync run` does.

Airflow lives in a venv of its own (`make airflow`, which `make test` runs): its pins are not the project's.
Where it could not be installed the test skips, saying why.
"""

import json
import os
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from sources.simulator import Simulator, World

from .conftest import POSTGRES_URL, require_postgres

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VENV = ROOT / ".venv-airflow"
DAGS_FOLDER = ROOT / "pipelines" / "deploy" / "airflow"
SIZES = {"campaigns": 2, "accounts": 2, "leads": 60}
WORKSPACES = {"acme": 31, "beta": 32}


def airflow_command() -> Path:
    airflow = AIRFLOW_VENV / "bin" / "airflow"
    if (AIRFLOW_VENV / ".installed").exists() and airflow.exists():
        return airflow
    why = AIRFLOW_VENV / ".unavailable"
    reason = why.read_text().strip()[-500:] if why.exists() else "`make airflow` has not been run"
    pytest.skip(f"Airflow is not installed in {AIRFLOW_VENV.name}: {reason}")


def test_the_dag_maps_one_task_per_workspace_into_the_shared_postgres_dataset(
    tmp_path, postgres_dataset, postgres_connection
):
    airflow = airflow_command()
    with ExitStack() as stack:
        simulators = {
            name: stack.enter_context(Simulator(World(seed=seed, sizes=SIZES), api_key=f"key-{name}"))
            for name, seed in WORKSPACES.items()
        }
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "SOURCES__INSTANTLY__WORKSPACES": json.dumps(
                {name: {"api_key": sim.api_key, "base_url": sim.base_url} for name, sim in simulators.items()}
            ),
            "SOURCES__INSTANTLY__RESOURCES": json.dumps(["campaigns", "leads"]),
            "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_URL,
        }
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        conf = json.dumps({"dataset": postgres_dataset})
        done = subprocess.run(
            [airflow, "dags", "test", "instantly_workspaces", "-c", conf],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        log = done.stdout + done.stderr
        assert done.returncode == 0, log[-3000:]
        with postgres_connection.cursor() as cursor:
            cursor.execute(f"select workspace_name, id from {postgres_dataset}.leads")
            loaded = cursor.fetchall()
            cursor.execute(
                f"select workspace_name, resource, status from {postgres_dataset}.sync_runs order by 1, 2"
            )
            runs = cursor.fetchall()
        for name, simulator in simulators.items():
            assert sorted(i for w, i in loaded if w == name) == sorted(simulator.world.ids("leads"))
        assert runs == [(name, resource, "ok") for name in WORKSPACES for resource in ("campaigns", "leads")]
        assert log.count("task_id='sync_workspace'") and "map_index=1" in log
        assert not any(sim.api_key in log for sim in simulators.values())


@pytest.fixture
def postgres_connection():
    import psycopg2

    require_postgres()
    connection = psycopg2.connect(POSTGRES_URL)
    connection.autocommit = True
    yield connection
    connection.close()
