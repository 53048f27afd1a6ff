"""Gato (Reed et al. 2022): one decoder-only transformer over every modality's tokens."""

from gatosuite.agent.families import ModelFamily, register_family

from .configuration_gato import LEGACY, PRESETS, GatoConfig, preset
from .modeling_gato import EMBEDDINGS, GatoModel

FAMILY = register_family(ModelFamily(
    name="gato", config=GatoConfig, model=GatoModel, presets=PRESETS,
    modules="decoder-only transformer; ResNet patch, token and value embeddings", year=2022,
    paper="Reed et al. 2022, A Generalist Agent", title="Gato",
    unseen="prompting with demonstrations; fine-tuning"))

__all__ = ["EMBEDDINGS", "FAMILY", "LEGACY", "PRESETS", "GatoConfig", "GatoModel", "preset"]
