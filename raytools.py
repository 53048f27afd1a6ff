"""Starting Ray the one way gatosuite does: a local Ray kept on loopback, or an existing cluster.

Collection (datasets/collect_ray.py), population evolution (evaluation/population.py) and the continual
protocol's runs (evaluation/continual_jobs.py) fan work out on Ray, and all start it here; the last two hand
their jobs to `job_runner`.

`init_ray(workers)` starts Ray on this machine with `workers` CPUs and no dashboard, its services bound to
127.0.0.1: Ray 2.60 on Linux binds them to the machine's network address even with
--node-ip-address=127.0.0.1, and only RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read when `ray` is imported, keeps
a local Ray on loopback (it also stops other nodes from joining, so it is set only for a local Ray).
`init_ray(workers, address)` joins the cluster at `address` instead (`ray start --head` on one machine,
`ray start --address` on the others), where the work runs wherever the cluster has CPUs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from gatosuite.errors import ConfigError, GatosuiteError

LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, a local Ray binds its services to 127.0.0.1 (Ray 2.60 on Linux otherwise binds them to the
machine's network address, even with --node-ip-address=127.0.0.1). It also stops other nodes from joining,
so it is set only for a local Ray."""


def init_ray(workers: int, address: str | None = None) -> None:
    """Start a local Ray with `workers` CPUs bound to loopback, or join the cluster at `address`; a Ray that
    is already initialized in this process is used as it is."""
    if not address:  # Ray reads the variable when it is imported, and its services inherit it
        if "ray" in sys.modules and os.environ.get(LOOPBACK_VAR) != "0":
            raise ConfigError(f"ray was imported before gatosuite could keep a local Ray on loopback; set "
                              f"{LOOPBACK_VAR}=0 in the environment before importing ray, or join a cluster "
                              "with --ray-address")
        os.environ.setdefault(LOOPBACK_VAR, "0")
    try:
        import ray
    except ImportError:
        raise ConfigError("running on more than one worker (or on a Ray cluster) needs Ray, which is not "
                          "installed; pip install 'ray==2.60.*' (it is in gatosuite's dependencies)") from None
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        return
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)


RETRIES = 2
"""Times Ray reruns a job whose worker died (the OOM killer, a lost node) before the run stops."""

JobFn = Callable[[dict[str, Any]], Any]
JobRunner = Callable[[list[dict[str, Any]], Callable[[int], None]], list[Any]]


def job_runner(fn: JobFn, workers: int = 1, address: str | None = None) -> JobRunner:
    """`run(jobs, done) -> results`, in job order: `fn(job)` for each job, and `done(finished)` after each
    finishes. `workers=1` with no `address` runs the jobs one after another in this process, with no Ray;
    otherwise they run as Ray tasks of one CPU each, at most `workers` at a time, on a local Ray kept on
    loopback or on the cluster at `address`. `fn` must be a top-level function of an importable module (a Ray
    worker imports it by name). A job whose worker dies is retried (RETRIES), and a job that raised one of
    gatosuite's errors raises it here as it is (one `error:` line in the CLI, not Ray's traceback)."""
    if workers <= 1 and not address:
        def in_process(jobs: list[dict[str, Any]], done: Callable[[int], None]) -> list[Any]:
            out = []
            for job in jobs:
                out.append(fn(job))
                done(len(out))
            return out

        return in_process
    init_ray(workers, address)
    import ray

    task = ray.remote(num_cpus=1, max_retries=RETRIES)(_call)
    fn_ref = ray.put(fn)

    def on_ray(jobs: list[dict[str, Any]], done: Callable[[int], None]) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        pending: dict[Any, int] = {}
        submitted = finished = 0
        try:
            while finished < len(jobs):
                while submitted < len(jobs) and len(pending) < workers:  # at most `workers` at a time
                    pending[task.remote(fn_ref, jobs[submitted])] = submitted
                    submitted += 1
                [ref], _ = ray.wait(list(pending), num_returns=1)
                results[pending.pop(ref)] = _get(ray, ref)
                finished += 1
                done(finished)
        finally:
            for ref in pending:  # a failed or interrupted batch leaves nothing running
                ray.cancel(ref)
        return results

    return on_ray


def _call(fn: JobFn, job: dict[str, Any]) -> Any:
    """The Ray task: one job (Ray imports this module and `fn` by name in the worker)."""
    return fn(job)


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, GatosuiteError):
            raise e.cause from None
        raise
