"""PathNet (Fernando et al. 2017, "PathNet: Evolution Channels Gradient Descent in Super Neural Networks") over
Gato's token embeddings.

Each of L layers holds M modules, small pre-norm transformer blocks. A path, an (L, N) matrix of module indices,
switches N of them on per layer; a layer adds the mean of its active modules' residual branches to the stream.
Training a path trains only the modules on it. After a task, the best path's modules are frozen
(`freeze_path`): they take no gradient and are never updated again, so what a later path reuses of them is
transfer, and a task whose path holds only frozen modules (and frozen shared tables) keeps its outputs. The
shared embeddings, the patch encoder, the final norm and the tied head are frozen with the first task's path
(`freeze_shared`); otherwise a later task's training would move them under every earlier one.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.agent.attention import SelfAttention
from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.contract import transformer_flops_per_token
from gatosuite.agent.kv_cache import KVCache, window_start
from gatosuite.agent.models.gato.modeling_gato import EMBEDDINGS, GatoModel

from .configuration_pathnet import PathNetConfig


class PathModule(nn.Module):
    """One module: a pre-norm transformer block that returns only its residual branch."""

    def __init__(self, cfg: PathNetConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.fc = nn.Linear(cfg.n_embd, cfg.ffn)
        self.out = nn.Linear(cfg.ffn, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None, slot: int,
                mask: torch.Tensor | None) -> torch.Tensor:  # (B, T, D) -> (B, T, D) branch
        a = self.drop(self.attn(self.ln1(x), cache, slot, mask))  # (B, T, D)
        return a + self.drop(self.out(F.gelu(self.fc(self.ln2(x + a)))))  # (B, T, D)


SHARED = (*EMBEDDINGS, "patch", "ln_f")
"""Top-level parameters outside the module grid, shared by every path: the embeddings, the image patch encoder
and the final norm (the head is tied to `tok`)."""


class PathNetModel(GatoModel):
    """Gato's embeddings and head around an L x M grid of modules, run along `self.path`."""

    def __init__(self, cfg: PathNetConfig) -> None:
        super().__init__(cfg)
        del self.blocks  # Gato's stack; the grid below replaces it
        L, M, N = cfg.n_layer, cfg.modules_per_layer, cfg.active
        self.grid = nn.ModuleList(nn.ModuleList(PathModule(cfg) for _ in range(M)) for _ in range(L))
        for module in self.grid.modules():
            self._init(module)
        self._scale_residuals(self.grid)
        self.register_buffer("path", torch.arange(N).repeat(L, 1))  # (L, N) module indices
        self.register_buffer("frozen", torch.zeros(L, M, dtype=torch.bool))  # (L, M)
        self.register_buffer("shared_frozen", torch.zeros((), dtype=torch.bool))
        self.register_load_state_dict_post_hook(lambda module, keys: module._apply_freezing())

    def _scale_residuals(self, root: nn.Module) -> None:
        for name, p in root.named_parameters():  # GPT-2: residual projections scaled by depth
            if name.endswith(("attn.proj.weight", "out.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.cfg.n_layer))

    # --- paths and freezing -------------------------------------------------------------------------
    def set_path(self, path: torch.Tensor | Any) -> None:
        """Switch the model onto `path` ((L, N) module indices in [0, M))."""
        p = torch.as_tensor(path, dtype=torch.long, device=self.path.device)
        cfg = self.cfg
        if p.shape != (cfg.n_layer, cfg.active) or p.min() < 0 or p.max() >= cfg.modules_per_layer:
            raise ValueError(f"a path is a ({cfg.n_layer}, {cfg.active}) matrix of module indices in "
                             f"[0, {cfg.modules_per_layer}); got {p.tolist()}")
        self.path.copy_(p)

    def select_task(self, task: str) -> bool:
        """Switch onto `task`'s recorded path (cfg.task_paths), if it has one; True if it has."""
        path = dict(self.cfg.task_paths).get(task)
        if path is not None:
            self.set_path(path)
        return path is not None

    def freeze_path(self, path: torch.Tensor | None = None) -> None:
        """Freeze the modules on `path` (default: the current one) for good."""
        p = self.path if path is None else torch.as_tensor(path, dtype=torch.long, device=self.path.device)
        for layer, row in enumerate(p.tolist()):
            self.frozen[layer, row] = True
        self._apply_freezing()

    def freeze_shared(self) -> None:
        """Freeze the embeddings, the final norm and the tied head (after the first task)."""
        self.shared_frozen.fill_(True)
        self._apply_freezing()

    def _apply_freezing(self) -> None:
        """requires_grad from the buffers (also after loading a checkpoint, which restores only buffers)."""
        for layer, modules in enumerate(self.grid):
            for k, module in enumerate(modules):
                for p in module.parameters():
                    p.requires_grad_(not bool(self.frozen[layer, k]))
        for name, p in self.named_parameters():
            if name.split(".")[0] in SHARED:
                p.requires_grad_(not bool(self.shared_frozen))

    @torch.no_grad()
    def reinit_unfrozen(self, generator: torch.Generator | None = None) -> None:
        """Re-initialise every module that is not frozen (before the next task, as the paper does)."""
        for layer, modules in enumerate(self.grid):
            for k, module in enumerate(modules):
                if self.frozen[layer, k]:
                    continue
                for sub in module.modules():
                    if isinstance(sub, nn.Linear):
                        sub.weight.normal_(0.0, 0.02, generator=generator)
                        if sub.bias is not None:
                            sub.bias.zero_()
                    elif isinstance(sub, nn.LayerNorm):
                        sub.reset_parameters()
                for name, p in module.named_parameters():
                    if name.endswith(("attn.proj.weight", "out.weight")):
                        p.normal_(0.0, 0.02 / math.sqrt(2 * self.cfg.n_layer), generator=generator)

    # --- the contract --------------------------------------------------------------------------------
    def hidden(self, batch: TokenBatch, cache: KVCache | None = None) -> torch.Tensor:
        start = window_start(cache, batch.shape[0])
        x = self.embed(batch, start)  # (B, T, D)
        mask = batch.attention_mask() if cache is None else None
        n = self.cfg.active
        for layer, (modules, row) in enumerate(zip(self.grid, self.path.tolist())):
            branch = sum(modules[k](x, cache, layer * n + j, mask) for j, k in enumerate(row))  # (B, T, D)
            x = x + branch / n  # (B, T, D)
        if cache is not None:
            cache.advance(batch.shape[1])
        return self.ln_f(x)  # (B, T, D)

    def new_cache(self, batch: int = 1) -> KVCache:
        return KVCache(self.cfg.n_layer * self.cfg.active, batch)  # one slot per active module

    def active_parameters(self, non_embedding: bool = True) -> int:
        """The parameters a token meets: the N modules of its path in each layer, plus the shared ones."""
        module = sum(p.numel() for p in self.grid[0][0].parameters())
        shared = self.num_parameters(non_embedding) - module * self.cfg.n_layer * self.cfg.modules_per_layer
        return shared + module * self.cfg.n_layer * self.cfg.active

    def flops_per_token(self, window: int) -> float:
        return transformer_flops_per_token(self.active_parameters(), self.cfg.n_layer * self.cfg.active,
                                           self.cfg.n_embd, window)

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups over the parameters that still train: frozen ones are left out altogether, so
        neither a gradient nor weight decay can move them."""
        live = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        return [{"params": [p for n, p in live if self._decays(n, p)], "weight_decay": weight_decay},
                {"params": [p for n, p in live if not self._decays(n, p)], "weight_decay": 0.0}]
