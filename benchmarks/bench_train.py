"""Training throughput of the `tiny` preset against the strongest plain GPT a user would write, each of
our gains on its own, MFU, and the KV-cache speedup, all measured side by side in one run.

* reference: nanoGPT as users write it today: fused QKV, `F.scaled_dot_product_attention(is_causal=True)`,
  GPT-2 init, logits and cross-entropy at every position (the loss ignores non-target positions), run
  in the same precision and with the same `--compile` setting as ours;
* ours: `GatoModel`, whose head computes logits only at the ~25% of positions that are targets;
* gains, each measured with everything else fixed:
  - logits only at targets: ours against ours computing the head at every position;
  - precision: ours in the chosen precision against ours in fp32 (1.0 where fp32 is chosen);
  - compile: ours with torch.compile against ours eager (only with --compile);
* MFU: model FLOPs per token (6 N + attention + the head at target positions) x tokens/s, over the
  matmul peak measured in this run for the chosen precision;
* KV: one action's latency, recomputing a full 1024-token window vs one step through the cache.

`--precision auto` (the default) chooses as training does (agent/runtime.py). Targets (issues 4, 8):
ratio >= 2, MFU >= 30%, KV >= 10x. Writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.families import get_family
from gatosuite.agent.runtime import Runtime, resolve

GATO = get_family("gato")

VOCAB = 4096 + 2048 + 4
B, T, TARGET_FRACTION = 8, 512, 0.25


class NanoGPT(nn.Module):
    """nanoGPT's model (karpathy/nanoGPT model.py), written plainly: SDPA causal attention, full logits."""

    def __init__(self, d: int, n_layer: int, n_head: int, ffn: int, ctx: int) -> None:
        super().__init__()
        self.tok, self.pos, self.h = nn.Embedding(VOCAB, d), nn.Embedding(ctx, d), n_head
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "ln1": nn.LayerNorm(d), "qkv": nn.Linear(d, 3 * d), "proj": nn.Linear(d, d),
            "ln2": nn.LayerNorm(d), "fc": nn.Linear(d, ffn), "out": nn.Linear(ffn, d)}) for _ in range(n_layer))
        self.ln = nn.LayerNorm(d)
        for m in self.modules():  # GPT-2 init, as nanoGPT's _init_weights (LayerNorms keep weight 1, bias 0)
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        b, t = idx.shape
        x = self.tok(idx) + self.pos.weight[:t]  # (B, T, D)
        for blk in self.blocks:
            q, k, v = blk["qkv"](blk["ln1"](x)).split(x.shape[-1], 2)
            q, k, v = (z.view(b, t, self.h, -1).transpose(1, 2) for z in (q, k, v))  # (B, H, T, Dh)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + blk["proj"](y.transpose(1, 2).reshape(b, t, -1))
            x = x + blk["out"](F.gelu(blk["fc"](blk["ln2"](x))))
        logits = self.ln(x) @ self.tok.weight.T  # (B, T, V): every position
        return F.cross_entropy(logits.float().view(-1, VOCAB), targets.view(-1), ignore_index=-1)


def full_logits_loss(model: torch.nn.Module, batch: TokenBatch) -> torch.Tensor:
    """Our model with the head at every position (the ablation of 'logits only at targets')."""
    h = model.hidden(batch)  # (B, T, D)
    logits = h @ model.tok.weight.T  # (B, T, V)
    targets = torch.where(batch.target_mask, batch.targets, torch.full_like(batch.targets, -1))
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)


def make_batch(gen: torch.Generator, b: int = B, t: int = T) -> TokenBatch:
    ids = torch.randint(0, VOCAB, (b, t), generator=gen)
    mask = torch.rand(b, t, generator=gen) < TARGET_FRACTION
    return TokenBatch(ids=ids, kinds=torch.full((b, t), 5, dtype=torch.uint8), local_pos=torch.full((b, t), -1),
                      targets=torch.roll(ids, -1, 1), target_mask=mask, patches=torch.zeros(0, 3, 16, 16),
                      patch_slot=torch.zeros(0, dtype=torch.long), patch_rows=torch.zeros(0, 2),
                      patch_cols=torch.zeros(0, 2))


def tokens_per_s(loss_fn: Callable[[], torch.Tensor], params, rt: Runtime, n: int = 5, warmup: int = 2,
                 tokens: int = B * T) -> float:
    """Training tokens/s of full AdamW steps of `loss_fn` (`tokens` per step) under the runtime's autocast."""
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step() -> None:
        with rt.autocast():
            loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(warmup):  # allocation, and compilation where compiled
        step()
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    return n * tokens / (time.perf_counter() - t0)


def peak_matmul_flops(dtype: torch.dtype, device: torch.device, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def flops_per_token(model: torch.nn.Module, t: int, target_fraction: float) -> float:
    """Training FLOPs per token: 6 N for the non-embedding weights, attention scores and values (causal,
    so half of 12 L d T), and the tied head where it is computed."""
    cfg = model.cfg
    return 6 * model.num_parameters() + 6 * cfg.n_layer * cfg.n_embd * t + 6 * cfg.n_embd * VOCAB * target_fraction


def kv_speedup(model: torch.nn.Module, gen: torch.Generator, rt: Runtime, ctx: int = 1024, reps: int = 5) -> dict:
    """One action's latency: recompute a full `ctx`-token window vs feed one token through the cache."""
    model.eval()
    full = make_batch(gen, 1, ctx).to(rt.device)
    cut = lambda sl: TokenBatch(**{**full.__dict__, **{k: getattr(full, k)[:, sl] for k in  # noqa: E731
                                                      ("ids", "kinds", "local_pos", "targets", "target_mask")}})
    prefix, one = cut(slice(0, ctx - 1)), cut(slice(ctx - 1, ctx))
    with torch.no_grad(), rt.autocast():
        model.hidden(full)
        t0 = time.perf_counter()
        for _ in range(reps):
            model.hidden(full)
        t_full = (time.perf_counter() - t0) / reps
        times = []
        for _ in range(reps):
            cache = model.new_cache()
            model.hidden(prefix, cache)
            t0 = time.perf_counter()
            model.next_token_logits(one, cache)
            times.append(time.perf_counter() - t0)
    model.train()
    return {"full_recompute_s": t_full, "cached_step_s": min(times), "kv_speedup": t_full / min(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile (ours and the reference)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train.json")
    a = ap.parse_args()
    rt = resolve(a.device, a.precision)
    fp32 = Runtime(rt.device, "fp32", "the fp32 side of the precision gain")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cfg = GATO.build("tiny", VOCAB, context=1024)
    data = make_batch(gen).to(rt.device)
    ours = GATO.model(cfg).to(rt.device)
    ref = NanoGPT(cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.ffn, cfg.context).to(rt.device)
    ref_targets = torch.where(data.target_mask, data.targets, torch.full_like(data.targets, -1))
    run = {
        "ours": lambda m=ours: m(data)[1],
        "reference": lambda m=ref: m(data.ids, ref_targets),
        "ours_full_logits": lambda m=ours: full_logits_loss(m, data),
    }
    print(f"tiny ({ours.num_parameters() / 1e6:.1f}M non-embedding), batch {B}x{T}, {torch.get_num_threads()} threads, "
          f"{rt.describe()}")
    tps = {name: tokens_per_s(fn, (ours if name != "reference" else ref).parameters(), rt) for name, fn in run.items()}
    tps["ours_fp32"] = tps["ours"] if not rt.bf16 else tokens_per_s(run["ours"], ours.parameters(), fp32)
    if a.compile:
        c_ours, c_ref = torch.compile(ours), torch.compile(ref)
        tps["ours_compiled"] = tokens_per_s(lambda: c_ours(data)[1], ours.parameters(), rt)
        tps["reference_compiled"] = tokens_per_s(lambda: c_ref(data.ids, ref_targets), ref.parameters(), rt)
    peak = peak_matmul_flops(torch.bfloat16 if rt.bf16 else torch.float32, rt.device)
    fpt = flops_per_token(ours, T, TARGET_FRACTION)
    result = {
        "machine": platform.machine(), "processor": platform.processor(), "threads": torch.get_num_threads(),
        "runtime": rt.to_dict(), "preset": "tiny", "batch": [B, T], "tokens_per_s": tps,
        "ratio": tps["ours"] / tps["reference"],
        "gains": {"logits_only_at_targets": tps["ours"] / tps["ours_full_logits"],
                  "precision": tps["ours"] / tps["ours_fp32"]},
        "flops_per_token": fpt, "reference_flops_per_token": flops_per_token(ours, T, 1.0),
        f"peak_{rt.precision}_flops": peak, "mfu": tps["ours"] * fpt / peak,
        **kv_speedup(ours, gen, rt),
    }
    if a.compile:
        result["gains"]["compile"] = tps["ours_compiled"] / tps["ours"]
        result["ratio_compiled"] = tps["ours_compiled"] / tps["reference_compiled"]
    _print(result, a.compile)
    result["presets"] = presets(data, rt)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {a.out}")


def _print(r: dict, compiled: bool) -> None:
    t, g, p = r["tokens_per_s"], r["gains"], r["runtime"]["precision"]
    print(f"  reference (nanoGPT: SDPA, full logits, {p})  {t['reference']:>9,.0f} tokens/s")
    print(f"  ours (logits only at targets, {p})          {t['ours']:>9,.0f} tokens/s")
    print(f"  ratio {r['ratio']:.2f}x (target >= 2); the reference does {r['reference_flops_per_token'] / 1e6:.1f} "
          f"MFLOP per token to our {r['flops_per_token'] / 1e6:.1f}, so equal efficiency would give "
          f"{r['reference_flops_per_token'] / r['flops_per_token']:.2f}x")
    print(f"  gains: logits only at targets {g['logits_only_at_targets']:.2f}x, precision {p} vs fp32 "
          f"{g['precision']:.2f}x" + (f", compile {g['compile']:.2f}x (compiled ratio {r['ratio_compiled']:.2f}x)"
                                     if compiled else ""))
    print(f"  MFU {r['mfu']:.1%} of a measured {r[f'peak_{p}_flops'] / 1e9:,.0f} GFLOP/s {p} matmul peak "
          "(target >= 30%)")
    print(f"  kv: full 1024-token recompute {r['full_recompute_s'] * 1e3:.1f} ms vs cached step "
          f"{r['cached_step_s'] * 1e3:.2f} ms -> {r['kv_speedup']:.0f}x (target >= 10)")


def presets(data: TokenBatch, rt: Runtime) -> dict:
    out = {}
    print(f"  presets, training at batch {B}x{T}, {rt.precision}:")
    for name, n in (("nano", 5), ("tiny", 5), ("small", 3), ("gato-79m", 2)):
        model = GATO.model(GATO.build(name, VOCAB, context=1024)).to(rt.device)
        tps = tokens_per_s(lambda m=model: m(data)[1], model.parameters(), rt, n=n, warmup=1)
        out[name] = {"non_embedding_params": model.num_parameters(), "tokens_per_s": tps}
        print(f"    {name:<9} {model.num_parameters() / 1e6:>6.2f}M non-embedding  {tps:>10,.0f} tokens/s")
    return out


if __name__ == "__main__":
    main()
