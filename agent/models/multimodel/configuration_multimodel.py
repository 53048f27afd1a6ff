"""Config of the `multimodel` family (Kaiser et al. 2017, One Model To Learn Them All), at small scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.agent.models.moe.layer import GATES, MoEConfig
from gatosuite.errors import ConfigError


@dataclass(frozen=True)
class MultiModelConfig(GatoConfig):
    """MultiModel's shape: Gato's input tables (agent/token_io.py) feeding a convolutional encoder with a
    sparsely gated MoE and an attention block, an I/O mixer and an attention decoder with MoE.

    `n_layer` is tensor2tensor's `num_hidden_layers`: the encoder's convolution blocks and the decoder's
    layers both number n_layer, as in the reference. `ffn` is the width of the decoder's dense FFNs (its
    layers other than `dec_moe_layer`)."""

    architecture: ClassVar[str] = "multimodel"
    kernel_size: int = 3
    """Width of the first two separable convolutions of a conv block (the paper's 3x1 kernels)."""
    large_kernel_size: int = 7
    """Width of the last two separable convolutions of a conv block (the paper's 15x1; 7 here, because a
    nano window holds ~200 encoder tokens and a timestep only 5 to 40 of them)."""
    large_dilation: int = 4
    """Dilation of the last convolution of a conv block (the paper's 8; t2t's conv_res_step uses 4)."""
    n_experts: int = 8
    """Experts of each MoE layer (t2t's multimodel_tiny: 30 at width 128; 8 here, as the moe family)."""
    top_k: int = 2
    """Experts per token (noisy top-k, Shazeer et al. 2017: k >= 2 so the router learns from the gates)."""
    expert_ffn: int = 256
    """Hidden width of each expert; top_k * expert_ffn = ffn keeps a token's active FFN that of Gato."""
    gate: str = "noisy-top-k"
    """'noisy-top-k' (the paper's gate) or 'switch'."""
    capacity_factor: float | None = 1.25
    """Expert capacity in training (tokens past it are dropped, the residual carries them). Evaluation and
    acting serve every token, so a policy's logits never depend on what else shares its batch."""
    w_importance: float = 0.1
    """Weight of the importance loss (noisy-top-k)."""
    w_load: float = 0.1
    """Weight of the load loss (noisy-top-k)."""
    switch_alpha: float = 0.01
    """Weight of the Switch balance loss (gate='switch')."""
    enc_moe_layer: int = -1
    """Encoder conv block whose output an MoE layer refines; -1: the middle one, n_layer // 2 (the paper
    puts the MoE in the middle of the encoder's conv blocks)."""
    dec_moe_layer: int = 0
    """Decoder layer whose FFN is an MoE (t2t's multimodel_tiny: moe_layers='0'); -1: none."""
    tasks: tuple[str, ...] = ()
    """The task vocabulary of the task tokens that start decoding (the paper's target-space embedding);
    filled by the trainer. Task index -1, or any index past it, gets the shared 'unknown task' row."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("kernel_size", "large_kernel_size", "large_dilation"):
            if getattr(self, name) < 1:
                raise ConfigError(f"MultiModelConfig.{name} must be positive, got {getattr(self, name)}")
        if not -1 <= self.enc_moe_layer < self.n_layer:
            raise ConfigError(f"enc_moe_layer must be in [-1, n_layer={self.n_layer}) (-1: the middle block), "
                              f"got {self.enc_moe_layer}")
        if not -1 <= self.dec_moe_layer < self.n_layer:
            raise ConfigError(f"dec_moe_layer must be in [-1, n_layer={self.n_layer}) (-1: no MoE in the "
                              f"decoder), got {self.dec_moe_layer}")
        if self.gate not in GATES:
            raise ConfigError(f"gate must be one of {', '.join(GATES)}; got {self.gate!r}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"MultiModelConfig.tasks holds a task twice: {self.tasks}")
        self.moe_config(0.02)  # the MoE layer validates the rest (top_k, capacity, weights)

    @property
    def encoder_moe(self) -> int:
        """The encoder conv block followed by the MoE layer."""
        return self.n_layer // 2 if self.enc_moe_layer < 0 else self.enc_moe_layer

    def moe_config(self, out_std: float) -> MoEConfig:
        """The config of one of its MoE layers, with experts' output projections initialised at `out_std`."""
        return MoEConfig(n_embd=self.n_embd, ffn=self.expert_ffn, n_experts=self.n_experts, top_k=self.top_k,
                         gate=self.gate, capacity_factor=self.capacity_factor, w_importance=self.w_importance,
                         w_load=self.w_load, switch_alpha=self.switch_alpha, dropout=self.dropout, out_std=out_std)


MULTIMODEL_PRESETS: dict[str, dict[str, Any]] = {
    # t2t's multimodel_tiny is hidden 128, filter 512, 2 layers: nano is that shape on Gato nano's width.
    "nano": dict(n_layer=2, n_head=4, n_embd=128, ffn=512, context=512, n_experts=8, top_k=2, expert_ffn=256),
    "tiny": dict(n_layer=4, n_head=8, n_embd=256, ffn=1024, context=512, n_experts=8, top_k=2, expert_ffn=512),
}
