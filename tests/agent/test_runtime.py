"""Device and precision: `auto` follows the hardware (the CPU measurement is mocked here, so each branch
runs on any machine), explicit choices are kept, and what was chosen is recorded with its reason."""

import json

import pytest
import torch

from gatosuite.agent import runtime
from gatosuite.agent.runtime import choose_precision, resolve, resolve_device
from gatosuite.errors import ConfigError

CPU = torch.device("cpu")


def test_auto_picks_fp32_when_bf16_is_measured_slower(monkeypatch):
    monkeypatch.setattr(runtime, "measure_cpu_matmul", lambda **kw: (0.001, 0.120))  # an AVX2 CPU: bf16 120x slower
    precision, reason = choose_precision("auto", CPU)
    assert precision == "fp32" and "no faster" in reason and "120.000 ms" in reason


def test_auto_picks_bf16_when_it_is_measured_faster(monkeypatch):
    monkeypatch.setattr(runtime, "measure_cpu_matmul", lambda **kw: (0.0010, 0.0006))  # an AMX CPU
    assert choose_precision("auto", CPU)[0] == "bf16"


def test_a_tie_stays_fp32(monkeypatch):
    monkeypatch.setattr(runtime, "measure_cpu_matmul", lambda **kw: (0.0010, 0.00095))
    assert choose_precision("auto", CPU)[0] == "fp32"


def test_explicit_choices_are_kept_and_bad_names_are_errors(monkeypatch):
    monkeypatch.setattr(runtime, "measure_cpu_matmul", lambda **kw: pytest.fail("an explicit choice must not measure"))
    assert choose_precision("fp32", CPU) == ("fp32", "asked for explicitly")
    assert choose_precision("bf16", CPU)[0] == "bf16"
    with pytest.raises(ConfigError, match="unknown precision 'fp16'; use one of auto, fp32, bf16"):
        choose_precision("fp16", CPU)
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def _by_shape(calls):
    """A CPU where bf16 wins on training's shape and loses on acting's (as measured on an AMX Xeon)."""
    def measure(rows=256, **kw):
        calls.append(rows)
        return (0.0009, 0.0002) if rows > 64 else (0.00006, 0.00008)
    return measure


def test_training_and_acting_are_measured_at_their_own_shapes(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime, "measure_cpu_matmul", _by_shape(calls))
    train_prec, train_reason = choose_precision("auto", CPU)
    act_prec, act_reason = choose_precision("auto", CPU, workload="act")
    assert calls == [runtime.WORKLOADS["train"], runtime.WORKLOADS["act"]] == [256, 8]
    assert (train_prec, act_prec) == ("bf16", "fp32")
    assert "train probe" in train_reason and "256-row" in train_reason and "act probe" in act_reason
    with pytest.raises(ValueError, match="unknown workload 'serve'"):
        choose_precision("auto", CPU, workload="serve")


def test_a_policy_resolves_auto_as_acting_and_training_keeps_its_own(monkeypatch, tmp_path):
    """`make_policy` with `auto` measures the acting shape, once, apart from training's choice."""
    from gatosuite.agent.checkpoint import save_checkpoint
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.models.gato.configuration_gato import GatoConfig
    from gatosuite.agent.models.gato.modeling_gato import GatoModel
    from gatosuite.tokenization import default_text_model
    from gatosuite.tokenization.task import task_tokenizer

    text = default_text_model(4096)
    vocab = task_tokenizer("cartpole", text).vocab.size
    model = GatoModel(GatoConfig(vocab_size=vocab, n_layer=1, n_head=2, n_embd=16, ffn=32, context=32))
    save_checkpoint(tmp_path / "ck", model, text, {"tasks": ["cartpole"], "segment_steps": 8})
    calls = []
    monkeypatch.setattr(runtime, "_RESOLVED", {})
    monkeypatch.setattr(runtime, "measure_cpu_matmul", _by_shape(calls))
    assert resolve("cpu", "auto").precision == "bf16"
    policies = [make_policy(tmp_path / "ck", "cartpole", device="cpu", precision="auto") for _ in range(2)]
    assert [p.rt.precision for p in policies] == ["fp32", "fp32"] and calls == [256, 8]
    assert resolve("cpu", "auto").precision == "bf16" and calls == [256, 8]


def test_the_real_measurement_returns_two_positive_times():
    fp32, bf16 = runtime.measure_cpu_matmul(rows=32, width=32, out=32, reps=1)
    assert fp32 > 0 and bf16 > 0


def test_resolve_measures_once_and_env_sets_the_default(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime, "_RESOLVED", {})
    monkeypatch.setattr(runtime, "measure_cpu_matmul", lambda **kw: calls.append(1) or (0.001, 0.1))
    monkeypatch.setenv("GATOSUITE_DEVICE", "cpu")
    a, b = resolve("auto", "auto"), resolve(None, "auto")
    assert a is b and len(calls) == 1 and a.precision == "fp32" and a.device == CPU
    monkeypatch.setenv("GATOSUITE_PRECISION", "bf16")
    assert resolve().precision == "bf16" and len(calls) == 1


def test_autocast_follows_the_runtime():
    lin = torch.nn.Linear(8, 8)
    x = torch.randn(4, 8)
    with runtime.Runtime(CPU, "bf16", "test").autocast():
        assert lin(x).dtype == torch.bfloat16
    with runtime.Runtime(CPU, "fp32", "test").autocast():
        assert lin(x).dtype == torch.float32


def test_cuda_is_a_clear_error_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the error path is for machines without one")
    with pytest.raises(ConfigError, match="no CUDA GPU.*--device cpu"):
        resolve_device("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_runs_and_records_its_precision(tmp_path, text_model, precision):
    """Both precision paths train (a few steps of a 1-layer model, cheap even where bf16 is slow), and
    the run records what it used in the checkpoint config and runtime.json."""
    import numpy as np
    from gymnasium import spaces

    from gatosuite.agent.models.gato.configuration_gato import GatoConfig
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets.cache import write_cache
    from gatosuite.tokenization import Tokenizer, Vocabulary

    vocab = Vocabulary(text_model.vocab_size)
    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2), vocab=vocab)
    rng = np.random.default_rng(0)
    seqs = [tok.encode_episode(rng.normal(size=(20, 4)).astype(np.float32), rng.integers(0, 2, 20)) for _ in range(3)]
    caches = {"cartpole": write_cache(tmp_path / "c", seqs, {"tokens_per_timestep": 6})}
    cfg = GatoConfig(vocab_size=vocab.size, n_layer=1, n_head=2, n_embd=32, ffn=64, context=36)
    args = TrainArgs(out=tmp_path / "run", window=36, batch_size=2, steps=3, warmup=1, val_every=0,
                     precision=precision, device="cpu")
    summary = train(args, text_model, caches, progress=False, cfg=cfg)
    assert summary["step"] == 3 and np.isfinite(summary["loss"])
    meta = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert meta["runtime"]["precision"] == precision and meta["runtime"]["device"] == "cpu"
    assert meta["runtime"]["reason"] == "asked for explicitly"
    assert json.loads((tmp_path / "run" / "runtime.json").read_text())["precision"] == precision


def test_a_checkpoint_loads_onto_another_device(tmp_path):
    """Weights are read to the CPU and moved; the meta device stands in for a GPU on a CPU-only machine."""
    from gatosuite.agent.checkpoint import load_model, save_checkpoint
    from gatosuite.agent.models.gato.configuration_gato import GatoConfig
    from gatosuite.agent.models.gato.modeling_gato import GatoModel

    model = GatoModel(GatoConfig(vocab_size=2200, n_layer=1, n_head=2, n_embd=16, ffn=32, context=16))
    save_checkpoint(tmp_path / "ck", model, None)
    loaded, _ = load_model(tmp_path / "ck", device="meta")
    assert all(p.device.type == "meta" for p in loaded.parameters())
    on_cpu, _ = load_model(tmp_path / "ck")
    assert torch.equal(on_cpu.tok.weight, model.tok.weight)
