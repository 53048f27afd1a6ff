"""muNet (Gesmundo & Dean 2022): a system of components that grows a model per task by evolution.

- `configuration_munet.py`: the config (the routes, one per task, name the components each task runs).
- `modeling_munet.py`: the system (banks of input tables, patch encoders, blocks, adapters and heads, with
  freezing) run along its active route.
- `evolution.py`: the mutations (clone, insert or remove a layer, add an adapter, step the learning rate),
  a child built from a parent route, parents drawn by 0.5 ** offspring, and the score.
- `candidate.py`: the binding of the population driver on Ray (evaluation/population.py): a seed route scored,
  or a child built, trained T steps and scored.
- `continual.py`: between tasks of the continual protocol, freeze the system and grow the next task's route.
"""

from gatosuite.agent.families import ModelFamily, register_family

from . import candidate, continual
from .configuration_munet import MUNET_PRESETS, MuNetConfig, Route
from .modeling_munet import MuNetModel

FAMILY = register_family(ModelFamily(
    name="munet", config=MuNetConfig, model=MuNetModel, presets=MUNET_PRESETS,
    modules="a system of shared components (embeddings, patch encoders, blocks, adapters, heads); a route per task",
    year=2022, title="muNet",
    paper="Gesmundo & Dean 2022, An Evolutionary Approach to Dynamic Introduction of Tasks in Large-scale "
          "Multitask Learning Systems",
    unseen="evolves a new route: clones, new layers and adapters over frozen components", continual=continual,
    evolution=candidate))

__all__ = ["FAMILY", "MUNET_PRESETS", "MuNetConfig", "MuNetModel", "Route"]
