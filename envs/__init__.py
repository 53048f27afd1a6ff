"""The task suite: registry, canonical observations, experts. Importing it registers every task with
Gymnasium as `gatosuite/<task>-v0`."""

from .canonical import CanonicalObservation, InvalidObservationError
from .make import make_raw_env, make_task_env, register_all
from .registry import TaskSpec
from .suite import SUITE

register_all()

__all__ = ["SUITE", "CanonicalObservation", "InvalidObservationError", "TaskSpec", "make_raw_env",
           "make_task_env"]
