"""`instantly-sync` that SIGKILLs itself once a chosen load job has committed, before dlt records that it did.

`KILL_AFTER_COMMIT` names the job as `<table>.<file format>` (`campaigns.insert_values`, `campaigns.sql` for
the merge). dlt writes a job's outcome (`RunnableLoadJob._release`) after its transaction commits; the first
such job to finish kills the process in between: its rows are in the database, its file in `started_jobs`
with no outcome. A random SIGKILL lands there rarely (tests/test_crash_resume.py); this lands there always.
"""

import os
import signal
import sys

from dlt.common.destination.client import RunnableLoadJob

from pipelines.cli import main

KILL_AFTER_COMMIT = "KILL_AFTER_COMMIT"


def kill_after_commit_of(job_name: str) -> None:
    release = RunnableLoadJob._release

    def release_or_die(job: RunnableLoadJob, next_state: str) -> None:
        parsed = job.job_file_info()
        if next_state == "completed" and f"{parsed.table_name}.{parsed.file_format}" == job_name:
            os.kill(os.getpid(), signal.SIGKILL)
        release(job, next_state)

    RunnableLoadJob._release = release_or_die


if __name__ == "__main__":
    kill_after_commit_of(os.environ[KILL_AFTER_COMMIT])
    sys.exit(main())
