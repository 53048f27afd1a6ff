"""Training throughput of the `tiny` preset against a plain GPT-2 of the same shape, MFU, and the
KV-cache speedup at a 1024-token context, all measured in one run.

* ours: masked logits (head only at text/action targets), SDPA attention, bf16 autocast;
* reference: a plain GPT-2 as users would write it: full logits at every position, manual attention
  (q k^T, mask, softmax), fp32;
* MFU: model FLOPs (6 N per token + attention) / the peak bf16 matmul FLOP/s measured here;
* kv_speedup: latency of recomputing a full 1024-token window per action over feeding one token
  through the cache.

It also times a training step of every preset (tokens/s at the same batch).

Writes benchmarks/results/train.json. Targets (issue 4): ratio >= 2, MFU >= 30%, kv_speedup >= 10.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.configuration_gato import preset
from gatosuite.agent.modeling_gato import GatoModel

VOCAB = 4096 + 2048 + 4
B, T, TARGET_FRACTION = 8, 512, 0.25


class RefGPT(nn.Module):
    """nanoGPT-style GPT-2 without the fused paths: manual attention, logits everywhere."""

    def __init__(self, d: int, n_layer: int, n_head: int, ffn: int, ctx: int) -> None:
        super().__init__()
        self.tok, self.pos, self.h = nn.Embedding(VOCAB, d), nn.Embedding(ctx, d), n_head
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "ln1": nn.LayerNorm(d), "qkv": nn.Linear(d, 3 * d), "proj": nn.Linear(d, d),
            "ln2": nn.LayerNorm(d), "fc": nn.Linear(d, ffn), "out": nn.Linear(ffn, d)}) for _ in range(n_layer))
        self.ln = nn.LayerNorm(d)
        for p in self.parameters():
            nn.init.normal_(p, std=0.02) if p.ndim > 1 else nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        b, t = idx.shape
        x = self.tok(idx) + self.pos.weight[:t]
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        for blk in self.blocks:
            q, k, v = blk["qkv"](blk["ln1"](x)).split(x.shape[-1], 2)
            q, k, v = (z.view(b, t, self.h, -1).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / (q.shape[-1] ** 0.5)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            x = x + blk["proj"]((att @ v).transpose(1, 2).reshape(b, t, -1))
            x = x + blk["out"](F.gelu(blk["fc"](blk["ln2"](x))))
        logits = self.ln(x) @ self.tok.weight.T
        return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1), ignore_index=-1)


def batch(gen: torch.Generator) -> TokenBatch:
    ids = torch.randint(0, VOCAB, (B, T), generator=gen)
    mask = torch.rand(B, T, generator=gen) < TARGET_FRACTION
    return TokenBatch(ids=ids, kinds=torch.full((B, T), 5, dtype=torch.uint8), local_pos=torch.full((B, T), -1),
                      targets=torch.roll(ids, -1, 1), target_mask=mask, patches=torch.zeros(0, 3, 16, 16),
                      patch_slot=torch.zeros(0, dtype=torch.long), patch_rows=torch.zeros(0, 2),
                      patch_cols=torch.zeros(0, 2))


def tokens_per_s(step, n: int = 6) -> float:
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n * B * T / (time.perf_counter() - t0)


def peak_matmul_flops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cfg = preset("tiny", VOCAB, context=1024)
    ours = GatoModel(cfg)
    opt = torch.optim.AdamW(ours.parameters(), lr=1e-4)
    data = batch(gen)

    def our_step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, loss, _ = ours(data)
        opt.zero_grad()
        loss.backward()
        opt.step()

    ref = RefGPT(cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.ffn, cfg.context)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-4)
    ref_targets = torch.where(data.target_mask, data.targets, torch.full_like(data.targets, -1))

    def ref_step() -> None:
        loss = ref(data.ids, ref_targets)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()

    ours_tps, ref_tps = tokens_per_s(our_step), tokens_per_s(ref_step)
    n = ours.num_parameters()
    flops_per_token = 6 * n + 12 * cfg.n_layer * cfg.n_embd * T + 6 * cfg.n_embd * VOCAB * TARGET_FRACTION
    peak = peak_matmul_flops(torch.bfloat16)
    mfu = ours_tps * flops_per_token / peak

    ours.eval()
    ctx = 1024
    full = TokenBatch(**{**data.__dict__, "ids": torch.randint(0, VOCAB, (1, ctx), generator=gen),
                         "kinds": torch.full((1, ctx), 5, dtype=torch.uint8), "local_pos": torch.full((1, ctx), -1),
                         "targets": torch.zeros(1, ctx, dtype=torch.long),
                         "target_mask": torch.zeros(1, ctx, dtype=torch.bool)})
    one = TokenBatch(**{**full.__dict__, **{k: getattr(full, k)[:, -1:] for k in
                                            ("ids", "kinds", "local_pos", "targets", "target_mask")}})
    prefix = TokenBatch(**{**full.__dict__, **{k: getattr(full, k)[:, :-1] for k in
                                               ("ids", "kinds", "local_pos", "targets", "target_mask")}})
    with torch.no_grad():
        reps = 5
        t0 = time.perf_counter()
        for _ in range(reps):
            ours.hidden(full)
        t_full = (time.perf_counter() - t0) / reps
        times = []
        for _ in range(reps):
            cache = ours.new_cache()
            ours.hidden(prefix, cache)
            t0 = time.perf_counter()
            ours.next_token_logits(one, cache)
            times.append(time.perf_counter() - t0)
        t_cached = min(times)
    result = {"machine": platform.machine(), "threads": torch.get_num_threads(), "preset": "tiny",
              "batch": [B, T], "tokens_per_s": ours_tps, "ref_tokens_per_s": ref_tps, "ratio": ours_tps / ref_tps,
              "flops_per_token": flops_per_token, "peak_bf16_flops": peak, "mfu": mfu,
              "full_recompute_s": t_full, "cached_step_s": t_cached, "kv_speedup": t_full / t_cached}
    print(f"tiny ({n / 1e6:.1f}M non-embedding), batch {B}x{T}, {torch.get_num_threads()} threads")
    print(f"  ours      {ours_tps:>10,.0f} tokens/s   (masked logits, SDPA, bf16)")
    print(f"  reference {ref_tps:>10,.0f} tokens/s   (full logits, manual attention, fp32)")
    print(f"  ratio {result['ratio']:.2f}x (target >= 2)   MFU {mfu:.1%} of a measured {peak / 1e12:.2f} TFLOP/s "
          "bf16 peak (target >= 30%)")
    print(f"  kv: full 1024-token recompute {t_full * 1e3:.1f} ms vs cached step {t_cached * 1e3:.2f} ms -> "
          f"{result['kv_speedup']:.0f}x (target >= 10)")
    result["presets"] = {}
    print(f"  presets, training at batch {B}x{T}, bf16:")
    for name, reps in (("nano", 6), ("tiny", 6), ("small", 3), ("gato-79m", 2)):
        model = GatoModel(preset(name, VOCAB, context=1024))
        p_opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def p_step(model=model, p_opt=p_opt) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                _, loss, _ = model(data)
            p_opt.zero_grad()
            loss.backward()
            p_opt.step()

        tps = tokens_per_s(p_step, reps)
        result["presets"][name] = {"non_embedding_params": model.num_parameters(), "tokens_per_s": tps}
        print(f"    {name:<9} {model.num_parameters() / 1e6:>6.2f}M non-embedding  {tps:>10,.0f} tokens/s")
    out = Path(__file__).parent / "results" / "train.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
