"""MultiModel (Kaiser et al. 2017, One Model To Learn Them All): a convolutional encoder with a sparsely
gated MoE and an attention block, an I/O mixer, and an attention decoder with MoE, started by a task token."""

from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.policy_seq2seq import Seq2SeqPolicy
from gatosuite.agent.seq2seq import seq2seq_adapter

from .configuration_multimodel import MULTIMODEL_PRESETS, MultiModelConfig
from .modeling_multimodel import MultiModel

FAMILY = register_family(ModelFamily(
    name="multimodel", title="MultiModel", config=MultiModelConfig, model=MultiModel, presets=MULTIMODEL_PRESETS,
    modules="encoder-decoder: causal separable-conv encoder with noisy top-k MoE and attention; I/O mixer "
            "(cross-attention, conv over outputs); attention decoder with MoE; task token starts decoding",
    year=2017, paper="Kaiser et al. 2017, One Model To Learn Them All",
    unseen="fine-tuning (an unseen task decodes from the shared unknown-task token)",
    policy=Seq2SeqPolicy, adapter=seq2seq_adapter))

__all__ = ["FAMILY", "MULTIMODEL_PRESETS", "MultiModel", "MultiModelConfig"]
