"""OFA (Wang et al. 2022): one sequence-to-sequence Transformer over a unified vocabulary, every task stated
as a natural-language instruction that opens the encoder's input; the decoder emits the action tokens."""

from gatosuite.agent.families import ModelFamily, register_family
from gatosuite.agent.policy_seq2seq import Seq2SeqPolicy

from .configuration_ofa import GENERIC_INSTRUCTION, OFA_PRESETS, OFAConfig, instruction_text
from .instructions import InstructedBatch, instruct, ofa_adapter
from .modeling_ofa import OFAModel

FAMILY = register_family(ModelFamily(
    name="ofa", config=OFAConfig, model=OFAModel, presets=OFA_PRESETS,
    modules="encoder-decoder transformer over the unified vocabulary; a task instruction in words opens the "
            "encoder input", year=2022,
    paper="Wang et al. 2022, OFA: Unifying Architectures, Tasks, and Modalities Through a Simple "
          "Sequence-to-Sequence Learning Framework",
    unseen="an instruction (a generic one for a task outside its vocabulary); fine-tuning", title="OFA",
    policy=Seq2SeqPolicy, adapter=ofa_adapter))

__all__ = ["FAMILY", "GENERIC_INSTRUCTION", "OFA_PRESETS", "InstructedBatch", "OFAConfig", "OFAModel",
           "instruct", "instruction_text", "ofa_adapter"]
