"""`instantly-sync` whose worker process SIGKILLs itself in the middle of one workspace's first load.

`KILL_WORKER_OF` names the workspace. Worker processes start with `spawn`, which imports the command's main
module (this one, as `__mp_main__`) in each worker: the patch below is in place there too. The worker dies
as its first load job starts: holding the dataset's turn (`pipelines.lock.turn`) and a connection to the
destination, its load begun, as a segfault or the kernel's out-of-memory killer would leave it.
"""

import os
import signal
import sys

from dlt.common.destination.client import RunnableLoadJob

from pipelines.cli import main

KILL_WORKER_OF = "KILL_WORKER_OF"


def kill_in_the_load_of(workspace: str) -> None:
    run_managed = RunnableLoadJob.run_managed

    def run_or_die(job: RunnableLoadJob, *args: object) -> None:
        if f"__{workspace}{os.sep}" in job._file_path:  # in the working folder of the workspace's pipeline
            os.kill(os.getpid(), signal.SIGKILL)
        run_managed(job, *args)

    RunnableLoadJob.run_managed = run_or_die


if os.environ.get(KILL_WORKER_OF):
    kill_in_the_load_of(os.environ[KILL_WORKER_OF])

if __name__ == "__main__":
    sys.exit(main())
