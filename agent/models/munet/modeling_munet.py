"""muNet (Gesmundo & Dean 2022) over Gato's tokens: one system of components, and a route per task through them.

The banks hold the components: input tables (Gato's token embedding with its local, row, column and window
position tables), patch encoders (Gato's ResNet-v2 block), transformer blocks (Gato's), adapters (a residual
bottleneck MLP whose output starts at zero, so adding one changes nothing until it trains) and heads (a final
norm and a d x d readout that starts as the identity; the logits are tied to the route's token embedding).
A forward pass runs the active route. Each component has a frozen flag (a buffer, so it survives a checkpoint):
a frozen component takes no gradient and is left out of the optimizer, so a finished task's components can be
shared by a later task's route but never changed by it (agent/models/munet/evolution.py grows the system).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.contract import transformer_flops_per_token
from gatosuite.agent.embeddings import PatchEmbedding
from gatosuite.agent.kv_cache import KVCache, window_start
from gatosuite.agent.models.gato.modeling_gato import Block, GatoModel
from gatosuite.agent.token_io import add_input_tables, embed_tokens, init_value_rows, nll_info, target_nll

from .configuration_munet import KINDS, MuNetConfig, Route

TABLES = ("tok", "pos", "local", "row", "col", "value")
"""The embedding tables of an input-tables component (no weight decay; not non-embedding parameters)."""


class InputTables(nn.Module):
    """Gato's input tables without the patch encoder (a component of its own)."""

    def __init__(self, cfg: MuNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        add_input_tables(self, cfg)
        del self.patch


class _Embedder:
    """An input-tables component seen together with a patch encoder, as `embed_tokens` reads a model."""

    def __init__(self, tables: InputTables, patch: nn.Module) -> None:
        self._tables, self.patch = tables, patch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tables, name)


class Adapter(nn.Module):
    """x + up(gelu(down(norm(x)))), `up` initialised to zero: the identity until it trains."""

    def __init__(self, cfg: MuNetConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(cfg.n_embd)
        self.down = nn.Linear(cfg.n_embd, cfg.adapter_dim)
        self.up = nn.Linear(cfg.adapter_dim, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return x + self.up(F.gelu(self.down(self.ln(x))))  # (B, T, D)


class Head(nn.Module):
    """The final norm and a d x d readout (initialised to the identity) before the tied output table."""

    def __init__(self, cfg: MuNetConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(cfg.n_embd)
        self.readout = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return self.readout(self.ln(x))  # (B, T, D)


def new_component(kind: str, cfg: MuNetConfig, n_layer: int) -> nn.Module:
    """A freshly initialised component: GPT-2's N(0, 0.02) with residual projections scaled by depth; an
    adapter's output and a head's readout start as no change (zero, identity)."""
    module = {"embed": InputTables, "patch": lambda c: PatchEmbedding(c.patch_channels, c.n_embd),
              "block": Block, "adapter": Adapter, "head": Head}[kind](cfg)
    module.apply(GatoModel._init)
    for name, p in module.named_parameters():
        if name.endswith(("attn.proj.weight", "out.weight")):
            nn.init.normal_(p, mean=0.0, std=0.02 / (2 * n_layer) ** 0.5)
    if kind == "embed" and cfg.value_init == "sinusoidal":
        init_value_rows(module.tok, cfg.vocab_size, cfg.n_embd)
    elif kind == "adapter":
        nn.init.zeros_(module.up.weight)
    elif kind == "head":
        with torch.no_grad():
            module.readout.weight.copy_(torch.eye(cfg.n_embd))
    return module


class MuNetModel(nn.Module):
    """`forward(batch) -> (logits, loss, info)` along the active route (the contract of agent/contract.py)."""

    can_act = True

    def __init__(self, cfg: MuNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.routes = cfg.route_list()
        self.active = cfg.active % len(self.routes)
        depth = max(len(r.layers) for r in self.routes)
        sizes = cfg.bank_sizes()
        self.embeds = nn.ModuleList(new_component("embed", cfg, depth) for _ in range(sizes["embed"]))
        self.patches = nn.ModuleList(new_component("patch", cfg, depth) for _ in range(sizes["patch"]))
        self.blocks = nn.ModuleList(new_component("block", cfg, depth) for _ in range(sizes["block"]))
        self.adapters = nn.ModuleList(new_component("adapter", cfg, depth) for _ in range(sizes["adapter"]))
        self.heads = nn.ModuleList(new_component("head", cfg, depth) for _ in range(sizes["head"]))
        for kind in KINDS:
            self.register_buffer(f"frozen_{kind}", torch.zeros(sizes[kind], dtype=torch.bool))
        self.register_load_state_dict_post_hook(lambda module, keys: module._apply_freezing())

    # --- the system ----------------------------------------------------------------------------------
    def bank(self, kind: str) -> nn.ModuleList:
        return {"embed": self.embeds, "patch": self.patches, "block": self.blocks, "adapter": self.adapters,
                "head": self.heads}[kind]

    def component(self, kind: str, index: int) -> nn.Module:
        return self.bank(kind)[index]

    @property
    def route(self) -> Route:
        return self.routes[self.active]

    def route_index(self, task: str) -> int | None:
        return next((i for i, r in enumerate(self.routes) if r.task == task), None)

    def select_task(self, task: str) -> bool:
        """Run `task`'s route, if the system has one; True if it has (a policy calls this for its task)."""
        i = self.route_index(task)
        if i is not None:
            self.active = i
        return i is not None

    def is_frozen(self, kind: str, index: int) -> bool:
        return bool(getattr(self, f"frozen_{kind}")[index])

    def freeze(self, components: list[tuple[str, int]] | None = None) -> None:
        """Freeze `components` (default: every component) for good."""
        for kind, i in components if components is not None else self.all_components():
            getattr(self, f"frozen_{kind}")[i] = True
        self._apply_freezing()

    def all_components(self) -> list[tuple[str, int]]:
        return [(kind, i) for kind in KINDS for i in range(len(self.bank(kind)))]

    def _apply_freezing(self) -> None:
        """requires_grad from the frozen buffers (also after a checkpoint load, which restores only those)."""
        for kind, i in self.all_components():
            for p in self.component(kind, i).parameters():
                p.requires_grad_(not self.is_frozen(kind, i))

    def component_parameters(self, components: list[tuple[str, int]], non_embedding: bool = False) -> int:
        n = 0
        for kind, i in set(components):
            for name, p in self.component(kind, i).named_parameters():
                if not (non_embedding and kind == "embed" and name.split(".")[0] in TABLES):
                    n += p.numel()
        return n

    def trainable_components(self) -> list[tuple[str, int]]:
        return [(k, i) for k, i in self.all_components() if not self.is_frozen(k, i)]

    # --- the contract --------------------------------------------------------------------------------
    def num_parameters(self, non_embedding: bool = True) -> int:
        return self.component_parameters(self.all_components(), non_embedding)

    def active_parameters(self, non_embedding: bool = True) -> int:
        """The parameters the active route runs (the other routes' components do not act on its tokens)."""
        return self.component_parameters(self.route.components(), non_embedding)

    def flops_per_token(self, window: int) -> float:
        return transformer_flops_per_token(self.active_parameters(), len(self.route.layers), self.cfg.n_embd,
                                           window)

    def _is_table(self, name: str) -> bool:
        parts = name.split(".")
        return parts[0] == "embeds" and parts[2] in TABLES

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups over the parameters that still train: frozen components are left out altogether."""
        live = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        decays = [p for n, p in live if p.ndim >= 2 and not self._is_table(n)]
        keep = [p for n, p in live if not (p.ndim >= 2 and not self._is_table(n))]
        return [{"params": decays, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]

    def _tables(self) -> InputTables:
        return self.embeds[self.route.embed]

    def hidden(self, batch: TokenBatch, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, D) hidden states along the active route, read out by its head."""
        start = window_start(cache, batch.shape[0])
        route = self.route
        x = embed_tokens(_Embedder(self._tables(), self.patches[route.patch]), batch, start)  # (B, T, D)
        mask = batch.attention_mask() if cache is None else None
        for layer, (b, a) in enumerate(route.layers):
            x = self.blocks[b](x, cache, layer, mask)  # (B, T, D)
            if a >= 0:
                x = self.adapters[a](x)  # (B, T, D)
        if cache is not None:
            cache.advance(batch.shape[1])
        return self.heads[route.head](x)  # (B, T, D)

    def new_cache(self, batch: int = 1) -> KVCache:
        return KVCache(len(self.route.layers), batch)

    def next_token_logits(self, batch: TokenBatch, cache: KVCache) -> torch.Tensor:
        h = self.hidden(batch, cache)  # (B, T, D)
        return h[:, -1] @ self._tables().tok.weight.T  # (B, V)

    def forward(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Logits (M, V) at the M targets, the masked NLL and per-target losses, as Gato's forward."""
        h = self.hidden(batch)  # (B, T, D)
        mask = batch.target_mask  # (B, T)
        tables = self._tables()
        logits = h[mask] @ tables.tok.weight.T  # (M, V)
        if logits.shape[0] == 0:
            return logits, None, {"n_targets": 0}
        targets = batch.targets[mask]  # (M,)
        next_kinds = torch.cat([batch.kinds[:, 1:], batch.kinds[:, :1]], dim=1)[mask]  # (M,)
        per_token = target_nll(logits, targets, next_kinds, self.cfg, tables.cont_lo)  # (M,)
        return logits, per_token.mean(), nll_info(per_token, next_kinds)
