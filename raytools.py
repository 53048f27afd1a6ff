"""Starting Ray the one way gatosuite does: a local Ray kept on loopback, or an existing cluster.

Collection (datasets/collect_ray.py) and population evolution (evaluation/population.py) both fan work out on
Ray, and both start it here.

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

from gatosuite.errors import ConfigError

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
