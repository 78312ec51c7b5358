"""Before a package a killed (or failed) load left behind loads again: make each of its files load once.

dlt records a load job's outcome in the package after the job's transaction commits
(`RunnableLoadJob._release`). A run killed in between leaves the job among `started_jobs` with no outcome,
and the resumed load runs it again. A file copied twice repeats its rows: into Postgres the repeat fails on
the unique `_dlt_id` (a terminal error: the package never loads); into DuckDB it lands, and the merge of a
root table with child tables inserts both copies.

So, for each package whose load had started:
- every table chain (a root table and its child tables) whose merge is not recorded done starts its load
  over: its staging tables are truncated, all its copy jobs go back to `new_jobs`, and its merge job, if dlt
  created one, is removed (dlt creates it again once the copies are done). Truncating rather than telling
  which copy committed is what makes it exact: staging holds nothing but the package's copies, and is also
  right when another workspace's load into the same dataset reused `<dataset>_staging` in between. A merge
  that had committed unrecorded runs again on the same staging rows: delete-insert on the same keys leaves
  the same tables.
- a copy straight into a final table (the pipeline state; `replace` tables) that ended unrecorded: the rows
  carrying the package's load id are deleted and that table's copies run again. Those tables have no child
  tables here, so the load id finds all they got.
"""

from dlt.common.schema import Schema
from dlt.common.schema.typing import C_DLT_LOAD_ID
from dlt.common.schema.utils import get_nested_tables, get_root_table, has_table_seen_data
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName
from dlt.destinations.job_client_impl import SqlJobClientWithStagingDataset
from dlt.pipeline.pipeline import Pipeline

# dlt writes a table chain's merge as a follow-up job, a SQL file named after the root table
MERGE_JOB_FORMAT = "sql"


def restart_unfinished_loads(pipeline: Pipeline) -> None:
    storage = pipeline._get_load_storage()  # dlt has no public handle on pending packages
    packages = storage.normalized_packages
    for load_id in packages.list_packages():
        if storage.begin_schema_update(load_id) is not None:
            continue  # never started loading: dlt truncates its staging tables when it does
        schema = packages.load_schema(load_id)
        with pipeline.destination_client(schema.name) as client:
            _restart_package(packages, load_id, schema, client)


def _restart_package(
    packages: PackageStorage, load_id: str, schema: Schema, client: SqlJobClientWithStagingDataset
) -> None:
    jobs = packages.list_all_jobs_with_states(load_id)

    def recorded_done(state: str, job: ParsedLoadJobFileName) -> bool:
        if state == "started_jobs":
            recorded = packages.load_pending_transition(load_id, job.file_name())
            return recorded is not None and recorded[0] == "completed"
        return state == "completed_jobs"

    copies = [(state, job) for state, job in jobs if job.file_format != MERGE_JOB_FORMAT]
    staged = {
        job.table_name for _, job in copies if client.should_load_data_to_staging_dataset(job.table_name)
    }
    merged = {
        job.table_name
        for state, job in jobs
        if job.file_format == MERGE_JOB_FORMAT and recorded_done(state, job)
    }
    unmerged = {get_root_table(schema.tables, table)["name"] for table in staged} - merged
    restarted = {
        table["name"]
        for root in unmerged
        for table in get_nested_tables(schema.tables, root)
        if has_table_seen_data(table)
    }
    unrecorded = {
        job.table_name for state, job in copies if state == "started_jobs" and not recorded_done(state, job)
    }
    direct = unrecorded - staged

    sql = client.sql_client
    if restarted:
        with sql.with_staging_dataset():
            sql.truncate_tables(*sorted(restarted))
    load_id_column = sql.escape_column_name(C_DLT_LOAD_ID)
    for table in sorted(direct):
        sql.execute_sql(
            f"DELETE FROM {sql.make_qualified_table_name(table)} WHERE {load_id_column} = %s", load_id
        )

    # the database first: killed before these moves, the next run finds the same jobs to restart. Completed
    # copies move before started ones: killed in between, an unrecorded started job is still there to
    # say its table must start over, so no completed copy whose rows were deleted stays marked done
    for state, job in sorted(jobs, key=lambda state_job: state_job[0] != "completed_jobs"):
        name = job.file_name()
        if job.file_format == MERGE_JOB_FORMAT:
            if job.table_name in unmerged and state in ("new_jobs", "started_jobs"):
                packages.storage.delete(packages.get_job_file_path(load_id, state, name))
                packages.clear_pending_transition(load_id, name)
        elif job.table_name in restarted | direct and state in ("completed_jobs", "started_jobs"):
            packages._move_job(load_id, state, "new_jobs", name)  # back in dlt's queue, as a retry goes
            packages.clear_pending_transition(load_id, name)
