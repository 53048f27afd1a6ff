"""PathNet (Fernando et al. 2017): evolved paths through a grid of modules; a task's best path is frozen.

- `modeling_pathnet.py`: the model (an L x M grid of small transformer modules over Gato's embeddings, run
  along a path), with freezing and re-initialisation.
- `evolution.py`: paths, the mutation operator and the binary tournament, with a resumable population.
- `candidate.py`: a candidate job of the Ray evolution driver (evaluation/population.py): a path trained T steps
  with the shared trainer and scored by its validation NLL.
- `continual.py`: between tasks of the continual protocol, freeze the last path, re-initialise the rest, and
  give the next task its own path.
"""

from gatosuite.agent.families import ModelFamily, register_family

from . import candidate, continual
from .configuration_pathnet import PATHNET_PRESETS, PathNetConfig
from .modeling_pathnet import PathModule, PathNetModel

FAMILY = register_family(ModelFamily(
    name="pathnet", config=PathNetConfig, model=PathNetModel, presets=PATHNET_PRESETS,
    modules="L x M grid of small transformer modules; N per layer on an evolved path", year=2017,
    paper="Fernando et al. 2017, PathNet: Evolution Channels Gradient Descent in Super Neural Networks",
    unseen="evolves a new path; transfers frozen modules", title="PathNet", continual=continual,
    evolution=candidate))

__all__ = ["FAMILY", "PATHNET_PRESETS", "PathModule", "PathNetConfig", "PathNetModel"]
