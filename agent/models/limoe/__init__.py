"""LIMoE (Mustafa et al. 2022): a modality-agnostic encoder with MoE FFNs over image patches and text,
trained contrastively on (frame, caption) and (frame, mission) pairs found in the suite's TokenBatch.
Encoder-only: it cannot act as a policy (evaluation/contrastive.py measures it instead)."""

from gatosuite.agent.contract import Objective
from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.pairs import Pairs, extract_pairs

from .configuration_limoe import LIMOE_PRESETS, LIMoEConfig
from .modeling_limoe import LIMoE, pairs_adapter

FAMILY = register_family(ModelFamily(
    name="limoe", config=LIMoEConfig, model=LIMoE, presets=LIMOE_PRESETS,
    modules="one encoder for images and text; top-1 MoE FFN every other block; contrastive", year=2022,
    paper="Mustafa et al. 2022, Multimodal Contrastive Learning with LIMoE: the Language-Image Mixture of Experts",
    unseen="no: an encoder, not a policy (zero-shot image classification by text prompts instead)",
    title="LIMoE", can_act=False, objective=Objective.CONTRASTIVE, adapter=pairs_adapter))

__all__ = ["FAMILY", "LIMOE_PRESETS", "LIMoE", "LIMoEConfig", "Pairs", "extract_pairs"]
