"""Mixture of Experts (Shazeer et al. 2017; Switch, Fedus et al. 2021).

- `layer.py`: the MoE feed-forward layer any family can use: `MoELayer(MoEConfig(...))(x, mask) -> (y, aux)`,
  with `aux["aux_loss"]` the balance loss to add to the task loss.
- The `moe` family: a decoder-only transformer with an MoE FFN in every block, on Gato's embeddings.
- The `gato-moe` family (agent/models/gato_moe): Gato with every other FFN an MoE.
"""

from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.models.moe.layer import GATES, MoEConfig, MoELayer, Routing, cv_squared

from .configuration_moe import MOE_PRESETS, MoETransformerConfig
from .modeling_moe import MoEBlock, MoETransformer

FAMILY = register_family(ModelFamily(
    name="moe", config=MoETransformerConfig, model=MoETransformer, presets=MOE_PRESETS,
    modules="decoder-only transformer; noisy top-k MoE FFN in every block", year=2017,
    paper="Shazeer et al. 2017, Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer",
    unseen="prompting with demonstrations; fine-tuning", title="MoE"))

__all__ = ["FAMILY", "GATES", "MOE_PRESETS", "MoEBlock", "MoEConfig", "MoELayer", "MoETransformer",
           "MoETransformerConfig", "Routing", "cv_squared"]
