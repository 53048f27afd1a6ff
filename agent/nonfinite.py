"""A non-finite loss stops training at that step, before the optimizer applies it.

A NaN or infinite loss (or gradient norm) would turn every weight into NaN at the optimizer step, and the
next checkpoint would write those weights over the last good ones. The trainer checks the loss and the
clipped gradient's norm after the backward pass and before `opt.step()`, in one device sync, and stops
with an error naming the step and the tasks in the batch. Under DDP the gradients are all-reduced in the
backward pass, so a NaN on any rank makes the norm NaN on every rank and all of them stop at the same step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gatosuite.errors import GatosuiteError


class NonFiniteLossError(GatosuiteError, FloatingPointError):
    """The loss or the gradient became NaN or infinite; the weights were not updated."""


def is_finite(loss: torch.Tensor, grad_norm: torch.Tensor) -> bool:
    """Both finite, in one sync with the device."""
    return bool(torch.isfinite(torch.stack([loss.detach().float(), grad_norm.detach().float()])).all())


def non_finite_error(step: int, loss: torch.Tensor, grad_norm: torch.Tensor, token_tasks: np.ndarray, lr: float,
                     ckpt: Path) -> NonFiniteLossError:
    """The error for step `step` (1-based, as logged): what was not finite, the batch's tasks, what was kept
    and what to try."""
    tasks = ", ".join(sorted({str(t) for t in token_tasks.flat} - {""}))
    loss, grad_norm = float(loss.detach()), float(grad_norm.detach())
    what = f"the loss is {loss:g}" if not np.isfinite(loss) else f"the gradient norm is {grad_norm:g}"
    kept = (f"the last checkpoint, '{ckpt}', is intact; start a new run from it with --init-from {ckpt} and"
            if (ckpt / "config.json").is_file() else "no checkpoint was written yet; start again with")
    return NonFiniteLossError(f"training stopped at step {step}: {what} on a batch of tasks {tasks}, so the "
                              f"weights were not updated; {kept} a lower --lr (it was {lr:.3g} at this step), or "
                              f"check those tasks' data (collect them again with --overwrite)")
