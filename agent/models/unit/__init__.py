"""UniT (Hu & Singh 2021, UniT: Multimodal Multitask Learning with a Unified Transformer): one transformer
encoder per modality, their outputs concatenated into the memory of a shared transformer decoder driven by
task-specific learned queries, with a small output head per task."""

from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.policy_seq2seq import Seq2SeqPolicy
from gatosuite.agent.seq2seq import seq2seq_adapter

from .configuration_unit import MODALITIES, UNIT_PRESETS, UniTConfig
from .modeling_unit import UniTModel

FAMILY = register_family(ModelFamily(
    name="unit", title="UniT", config=UniTConfig, model=UniTModel, presets=UNIT_PRESETS,
    modules="encoder-decoder: one transformer encoder per modality (image, text, values), outputs "
            "concatenated; shared transformer decoder with task-specific queries; per-task output heads",
    year=2021, paper="Hu & Singh 2021, UniT: Multimodal Multitask Learning with a Unified Transformer",
    unseen="fine-tuning (an unseen task decodes from the shared unknown-task queries and head)",
    policy=Seq2SeqPolicy, adapter=seq2seq_adapter))

__all__ = ["FAMILY", "MODALITIES", "UNIT_PRESETS", "UniTConfig", "UniTModel"]
