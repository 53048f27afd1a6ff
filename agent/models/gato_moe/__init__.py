"""Gato-MoE: Gato with every other FFN a noisy top-k Mixture of Experts (as GShard and Switch place them).

The same tokenizer, embeddings, KV cache and policy as Gato; the model class is the `moe` family's
(agent/models/moe/modeling_moe.py), configured here.
"""

from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.models.moe import MOE_PRESETS, MoETransformer

from .configuration_gato_moe import GatoMoEConfig

FAMILY = register_family(ModelFamily(
    name="gato-moe", config=GatoMoEConfig, model=MoETransformer, presets=MOE_PRESETS,
    modules="Gato with every other FFN a noisy top-k MoE", year=2022,
    paper="Reed et al. 2022 (Gato) with Shazeer et al. 2017 (MoE)", title="Gato-MoE",
    unseen="prompting with demonstrations; fine-tuning"))

__all__ = ["FAMILY", "GatoMoEConfig"]
