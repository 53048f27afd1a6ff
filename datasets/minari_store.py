"""Episodes <-> Minari datasets (the Farama standard), so `minari.load_dataset` opens what we collect.

We write through `EpisodeBuffer` + `create_dataset_from_buffers` (Minari's DataCollector would pull in
jax), with `jpeg_encoding=False` (the default silently JPEG-compresses frames) and explicit reference
scores (otherwise Minari runs 100 random episodes to compute them). Datasets live under
`<root>/minari/gatosuite/<task>/expert-v0`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gatosuite.errors import RESUME_FIX, DataNotFoundError, DiskFullError, disk_full_is_an_error

from .staging import CorruptDataError, Episode


def dataset_id(task_id: str) -> str:
    return f"gatosuite/{task_id}/expert-v0"


def minari_root(root: Path) -> Path:
    return Path(root) / "minari"


def dataset_dir(root: Path, task_id: str) -> Path:
    return minari_root(root) / "gatosuite" / task_id / "expert-v0"


@contextlib.contextmanager
def _datasets_path(path: Path) -> Iterator[None]:
    """Point Minari at `path` for the duration (it reads MINARI_DATASETS_PATH on every call)."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def build_dataset(root: Path, task_id: str, episodes: list[Episode], env_spec, observation_space, action_space,
                  ref_min: float, ref_max: float, algorithm: str) -> Path:
    """Write all `episodes` as one Minari dataset, atomically (built aside, then moved into place)."""
    import minari
    from minari.data_collector import EpisodeBuffer

    final = dataset_dir(root, task_id)
    scratch = Path(root) / ".building" / task_id
    shutil.rmtree(scratch, ignore_errors=True)
    check_space(root, task_id, episodes)
    buffers = [
        EpisodeBuffer(id=i, seed=ep.seed, observations=ep.observations, actions=ep.actions,
                      rewards=list(np.asarray(ep.rewards, np.float64)), terminations=list(ep.terminations),
                      truncations=list(ep.truncations), infos=_infos(ep))
        for i, ep in enumerate(episodes)
    ]
    try:  # a full disk leaves the staged chunks as they are, and no half-built dataset taking space
        with _datasets_path(scratch), warnings.catch_warnings(), disk_full_is_an_error(scratch):
            # Minari nags about a code permalink and an author e-mail, which a locally made dataset lacks.
            warnings.filterwarnings("ignore", message=r"`(code_permalink|author_email)` is set to None")
            minari.create_dataset_from_buffers(
                dataset_id(task_id), buffers, env=env_spec, eval_env=env_spec,
                observation_space=observation_space, action_space=action_space,
                ref_min_score=float(ref_min), ref_max_score=float(ref_max), algorithm_name=algorithm,
                author="gatosuite", jpeg_encoding=False,
                description=f"Expert episodes of gatosuite task '{task_id}', collected by `gatosuite collect`.",
            )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(scratch / "gatosuite" / task_id / "expert-v0", final)
    shutil.rmtree(scratch, ignore_errors=True)
    return final


def estimated_bytes(episodes: list[Episode]) -> int:
    """A generous estimate of the HDF5 file of `episodes`: 1.5x their arrays, 32 KiB per episode and 1 MiB
    of metadata. Measured on datasets of 20-50 episodes, the file was 1.23x the arrays (halfcheetah),
    1.42x (babyai-goto) and 0.17 MB + 25 KB per episode (pendulum)."""
    arrays = sum(sum(np.asarray(v).nbytes for v in ep.observations.values()) + np.asarray(ep.actions).nbytes
                 + (0 if ep.labels is None else 2 * np.asarray(ep.labels).nbytes) + 19 * (len(ep) + 1)
                 for ep in episodes)
    return int(1.5 * arrays) + (32 << 10) * len(episodes) + (1 << 20)


def check_space(root: Path, task_id: str, episodes: list[Episode]) -> None:
    """Refuse to start building a dataset that the disk cannot hold. HDF5 crashes the process (a
    segfault in h5py's File.close, seen with h5py 3.16 on a full tmpfs) instead of raising when the disk
    fills up mid-write, so the space is checked first."""
    need, free = estimated_bytes(episodes), shutil.disk_usage(root).free
    if need > free:
        raise DiskFullError(f"not enough space on device to build the dataset of '{task_id}' in '{root}': it needs "
                            f"about {need / 2**20:.1f} MiB and {free / 2**20:.1f} MiB are free; {RESUME_FIX} (the "
                            f"{len(episodes)} episodes collected stay staged)")


def _infos(ep: Episode) -> dict[str, np.ndarray]:
    """Per-step infos (T + 1 entries, as Minari stores them): the episode's index, its success, for noisy
    collection `expert_action`: the expert's label at each recorded state (the final state has no action;
    its entry repeats the last label), and for a goal family the episode's `variant`."""
    n = len(ep) + 1
    infos = {"episode_index": np.full(n, ep.index, np.int64),
             "success": np.full(n, -1 if ep.success is None else int(ep.success), np.int8)}
    if ep.labels is not None:
        labels = np.asarray(ep.labels)
        infos["expert_action"] = np.concatenate([labels, labels[-1:]])
    if ep.variant is not None:
        infos["variant"] = np.full(n, ep.variant, np.int64)
    return infos


def _fix(root: Path, task_id: str) -> str:
    return (f"delete '{dataset_dir(root, task_id)}' and collect again: gatosuite collect --task {task_id} "
            f"--episodes N --root {root}")


def load(root: Path, task_id: str):
    """Open a task's Minari dataset; missing or corrupt files get an error saying how to recover."""
    import minari

    path = dataset_dir(root, task_id)
    fix = _fix(root, task_id)
    if not (path / "data" / "main_data.hdf5").is_file():
        raise DataNotFoundError(f"no dataset for task '{task_id}' under '{root}'; run "
                                f"`gatosuite collect --task {task_id} --episodes N --root {root}`")
    try:
        with _datasets_path(minari_root(root)):
            ds = minari.load_dataset(dataset_id(task_id))
            ds.storage.get_episodes([ds.total_episodes - 1])  # touch the last episode: catches truncation
    except (OSError, KeyError, ValueError) as e:
        raise CorruptDataError(f"dataset '{path}' is corrupt or truncated ({type(e).__name__}: {e}); {fix}") from e
    return ds


def iter_episodes(root: Path, task_id: str) -> Iterator[Episode]:
    """Episodes of a stored dataset as :class:`Episode` objects, in index order, with their seeds."""
    ds = load(root, task_id)
    try:
        seeds = [m.get("seed", -1) for m in ds.storage.get_episode_metadata(range(ds.total_episodes))]
        for ep, seed in zip(ds.iterate_episodes(), seeds):
            succ = int(ep.infos["success"][0])
            labels = ep.infos["expert_action"][:-1] if "expert_action" in ep.infos else None
            variant = int(ep.infos["variant"][0]) if "variant" in ep.infos else None
            yield Episode(int(ep.infos["episode_index"][0]), int(seed), ep.observations, ep.actions,
                          ep.rewards, ep.terminations, ep.truncations, None if succ < 0 else bool(succ), labels,
                          variant)
    except (OSError, KeyError, ValueError) as e:
        raise CorruptDataError(f"dataset '{dataset_dir(root, task_id)}' is corrupt or truncated "
                               f"({type(e).__name__}: {e}); {_fix(root, task_id)}") from e
