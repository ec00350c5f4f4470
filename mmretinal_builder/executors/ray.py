"""Run the books of a build on a Ray cluster (optional extra: ``pip install .[ray]``).

Each book's stages run as one Ray task, exactly the function the local pool runs
(:func:`mmretinal_builder.jobs.run_book`), so outputs are identical. Shards and images are written to the run
directory by the workers, so on a real cluster the run directory must be on storage every node mounts (NFS, a
shared volume) at the same path. ``RAY_ADDRESS`` selects the cluster (``auto`` joins the one this node belongs
to); without it a local Ray instance is started with ``workers`` CPUs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from ..errors import BuilderError
from ..jobs import BookJob, BookResult, ProgressFn, failed, run_book


class RayExecutor:
    def __init__(self, workers: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise BuilderError("the ray executor needs Ray: pip install '.[ray]'") from None
        self.ray = ray
        self.workers = max(1, workers)

    def map(self, jobs: list[BookJob], progress: ProgressFn | None) -> Iterator[BookResult]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            address = os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # A local instance: workers see the driver's import path (recipes may name stages by module).
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
        try:
            remote = ray.remote(num_cpus=1, max_retries=2)(run_book)
            for job in jobs:
                job.processes = 1  # one CPU per task: OCR runs in the task's own process
            pending = {remote.remote(job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        result: BookResult = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        # the task's process died on every try (a crash inside a library, killed for memory):
                        # that book's error, the other books go on (as with the local executor)
                        result = failed(job, "worker",
                                        f"the Ray task died while processing this book ({type(e).__name__})")
                    if progress:
                        for run in result.runs:
                            progress(result.name, run.stage, -1, -1)
                    yield result
        finally:
            if started_here:
                ray.shutdown()
