"""Training faults, each injected: a stop signal, a non-finite loss, a full disk, and a resume with other
arguments. Each test checks the error names the fix, that the last good checkpoint is intact, and that
the next run works (a resumed run ends with the weights of an uninterrupted one)."""

import errno
import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from gatosuite.agent import train as train_mod
from gatosuite.agent.checkpoint import load_model, load_trainer_state
from gatosuite.agent.nonfinite import NonFiniteLossError
from gatosuite.agent.resume_check import RESUMABLE, ResumeMismatchError, differences
from gatosuite.agent.stop_signals import TrainingStopped
from gatosuite.agent.train import TrainArgs, train
from gatosuite.errors import DiskFullError


@pytest.fixture(scope="module")
def caches(tmp_path_factory, make_toy_caches):
    return make_toy_caches(tmp_path_factory.mktemp("c"))


def _args(out, **kw):
    base = dict(out=out, window=60, batch_size=4, steps=8, warmup=2, log_every=2, val_every=4, val_batches=1,
                ckpt_every=4, precision="fp32", preset="nano")
    base.update(kw)
    return TrainArgs(**base)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, caches, text_model):
    """The weights of an uninterrupted 8-step run."""
    out = tmp_path_factory.mktemp("straight") / "run"
    train(_args(out), text_model, caches, progress=False)
    return load_file(str(out / "checkpoint" / "model.safetensors"))


def _assert_same_weights(out, straight):
    got = load_file(str(out / "checkpoint" / "model.safetensors"))
    for k in straight:
        torch.testing.assert_close(got[k], straight[k], rtol=0, atol=1e-6)


def _at_step(monkeypatch, step, action):
    """Run `action(run)` right after the optimizer step that reaches `step`."""
    real = train_mod._train_step

    def step_then_act(run, *a, **kw):
        out = real(run, *a, **kw)
        if run.step == step:
            action(run)
        return out

    monkeypatch.setattr(train_mod, "_train_step", step_then_act)


@pytest.mark.slow
def test_sigterm_checkpoints_the_step_reached_and_resume_continues_exactly(tmp_path, caches, text_model, straight,
                                                                          monkeypatch):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _at_step(monkeypatch, 3, lambda run: os.kill(os.getpid(), signal.SIGTERM))  # between checkpoints (4, 8)
    out = tmp_path / "run"
    with pytest.raises(TrainingStopped, match=r"stopped by SIGTERM at step 3; checkpoint saved in .*--resume"):
        train(_args(out), text_model, caches, progress=False)
    assert {s: signal.getsignal(s) for s in before} == before  # the caller's handlers are back
    assert load_trainer_state(out / "checkpoint")["step"] == 3
    monkeypatch.undo()
    assert train(_args(out, resume=True), text_model, caches, progress=False)["step"] == 8
    _assert_same_weights(out, straight)


def test_ctrl_c_checkpoints_the_step_reached(tmp_path, caches, text_model, monkeypatch):
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background
    _at_step(monkeypatch, 2, lambda run: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(TrainingStopped, match="stopped by SIGINT at step 2"):
        train(_args(tmp_path / "run", steps=4), text_model, caches, progress=False)
    assert load_trainer_state(tmp_path / "run" / "checkpoint")["step"] == 2
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back


@pytest.mark.slow
def test_a_non_finite_loss_stops_before_the_update_and_keeps_the_checkpoint(tmp_path, caches, text_model, straight,
                                                                            monkeypatch):
    real_build = train_mod._build

    def build_with_nan_at_step_6(*a, **kw):
        run = real_build(*a, **kw)
        fwd = run.fwd

        def forward(batch):
            logits, loss, info = fwd(batch)
            return logits, loss * float("nan") if run.step + 1 == 6 else loss, info

        run.fwd = forward
        return run

    monkeypatch.setattr(train_mod, "_build", build_with_nan_at_step_6)
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"stopped at step 6: the loss is nan on a batch of tasks cartpole, "
                                                 r"so the weights were not updated; the last checkpoint.*--init-from"
                                                 r".*a lower --lr"):
        train(_args(out), text_model, caches, progress=False)
    ckpt = out / "checkpoint"
    assert load_trainer_state(ckpt)["step"] == 4  # the checkpoint of step 4, untouched
    model, _ = load_model(ckpt)
    assert all(torch.isfinite(p).all() for p in model.state_dict().values())
    monkeypatch.undo()  # the next run works: it continues from step 4, exactly
    train(_args(out, resume=True), text_model, caches, progress=False)
    _assert_same_weights(out, straight)


def _enospc(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint(tmp_path, caches, text_model, straight,
                                                                   monkeypatch):
    from gatosuite.agent import checkpoint

    real, calls = checkpoint.save_file, []

    def save_file_fails_second_time(*a, **kw):
        calls.append(1)
        return _enospc() if len(calls) == 2 else real(*a, **kw)

    monkeypatch.setattr(checkpoint, "save_file", save_file_fails_second_time)
    out = tmp_path / "run"
    with pytest.raises(DiskFullError, match=r"no space left on device while writing '.*checkpoint'; the previous "
                                            r"checkpoint in .* is intact; free space on that disk, then rerun"):
        train(_args(out), text_model, caches, progress=False)
    assert load_trainer_state(out / "checkpoint")["step"] == 4
    assert [p.name for p in out.iterdir() if p.name.startswith(".checkpoint")] == []  # no temp folder left
    monkeypatch.undo()  # space freed: --resume continues from step 4, exactly
    train(_args(out, resume=True), text_model, caches, progress=False)
    _assert_same_weights(out, straight)


@pytest.mark.slow
def test_a_full_disk_while_logging_keeps_whole_rows(tmp_path, caches, text_model, monkeypatch):
    import csv

    from gatosuite.agent import train_log

    class HalfWriter:
        """csv.writer whose third log row is cut short by a full disk."""

        real = csv.writer

        def __init__(self, f):
            self.f, self.inner = f, HalfWriter.real(f)

        def writerow(self, row):
            if row[0] == 6:
                self.f.write("6,lo")
                _enospc()
            self.inner.writerow(row)

    monkeypatch.setattr(train_log.csv, "writer", HalfWriter)
    out = tmp_path / "run"
    with pytest.raises(DiskFullError, match=r"while writing '.*train.csv'"):
        train(_args(out), text_model, caches, progress=False)
    lines = (out / "train.csv").read_text().splitlines()
    assert lines[0] == "step,key,value" and {ln.split(",")[0] for ln in lines[1:]} == {"2", "4"}
    assert all(len(ln.split(",")) == 3 for ln in lines)
    monkeypatch.undo()
    train(_args(out, resume=True), text_model, caches, progress=False)  # appends to a clean file
    steps = [int(ln.split(",")[0]) for ln in (out / "train.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 8


def test_a_full_disk_in_tensorboard_is_one_error(tmp_path, caches, text_model, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    monkeypatch.setattr(SummaryWriter, "flush", _enospc)
    with pytest.raises(DiskFullError, match=r"while writing '.*tensorboard'; free space"):
        train(_args(tmp_path / "run", steps=2), text_model, caches, progress=False)


@pytest.mark.slow
def test_resume_with_other_tasks_steps_or_text_model_is_refused(tmp_path, caches, text_model):
    from gatosuite.tokenization.corpus import suite_texts
    from gatosuite.tokenization.text import train_text_model

    out = tmp_path / "run"
    train(_args(out, tasks="cartpole", steps=4, stop_at=2, val_every=0), text_model, caches, progress=False)
    with pytest.raises(ResumeMismatchError, match=r"lr: run '0.001' vs requested '0.002'; tasks: run 'cartpole' "
                                                  r"vs requested 'acrobot'.*--init-from"):
        train(_args(out, steps=4, val_every=0, resume=True, tasks="acrobot", lr=2e-3), text_model, caches,
              progress=False)
    with pytest.raises(ResumeMismatchError, match=r"steps: run '4' vs requested '60' \(the run's cosine schedule is 4 "
                                                  r"steps long; resume with --steps 4"):
        train(_args(out, tasks="cartpole", steps=60, val_every=0, resume=True), text_model, caches, progress=False)
    other = train_text_model(list(suite_texts())[::-1] + ["a different corpus"] * 10, vocab_size=400)
    assert other.fingerprint != text_model.fingerprint
    with pytest.raises(ResumeMismatchError, match="text model: run sha256"):
        train(_args(out, tasks="cartpole", steps=4, val_every=0, resume=True), other, caches, progress=False)
    # what only says how this session runs may change (see RESUMABLE)
    summary = train(_args(out, tasks="cartpole", steps=4, val_every=0, resume=True, log_every=1, ckpt_every=1,
                          device="cpu", val_batches=3), text_model, caches, progress=False)
    assert summary["step"] == 4


def test_resume_check_is_generic_and_documents_its_allow_list(tmp_path):
    recorded = {k: str(v) for k, v in TrainArgs(tasks="cartpole,acrobot").__dict__.items()}
    assert differences(recorded, TrainArgs(tasks="acrobot,cartpole").__dict__) == {}  # the same selection
    assert differences(recorded, TrainArgs(tasks="cartpole,acrobot", stop_at=3, minutes=2.0).__dict__) == {}
    # a field added to TrainArgs after the checkpoint was written is not compared; a new one that is is
    requested = {**TrainArgs(tasks="cartpole,acrobot").__dict__, "added_later": "x"}
    assert differences(recorded, requested) == {}
    assert differences({**recorded, "added_later": "y"}, requested) == {"added_later": ("y", "x")}
    gato_2022 = TrainArgs(tasks="cartpole,acrobot", recipe="gato-2022").__dict__
    assert "recipe" in differences(recorded, gato_2022)  # the recipe defines the run
    assert all(isinstance(why, str) and why for why in RESUMABLE.values())
    assert set(RESUMABLE) <= set(TrainArgs.__dataclass_fields__)


def test_a_fitted_schedule_names_its_length(tmp_path):
    from gatosuite.agent.resume_check import check_resume

    args = TrainArgs(out=tmp_path, steps=100_000, minutes=5.0, fit_schedule=True)
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "config.json").write_text(json.dumps({
        "model": {}, "schedule_steps": 3127, "train_args": {k: str(v) for k, v in args.__dict__.items()}}))
    check_resume(args, None)  # the same arguments resume
    with pytest.raises(ResumeMismatchError, match=r"schedule is 3127 steps long \(fitted to its --minutes\); resume "
                                                  r"with --steps 100000"):
        check_resume(TrainArgs(out=tmp_path, steps=400, minutes=5.0, fit_schedule=True), None)
