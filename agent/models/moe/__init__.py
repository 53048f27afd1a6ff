"""Mixture-of-Experts feed-forward layer (Shazeer et al. 2017; Switch, Fedus et al. 2021), usable as the MLP of
any model family: `MoELayer(MoEConfig(...))(x, mask) -> (y, aux)`, where `aux["aux_loss"]` is the balance loss to
add to the task loss."""

from gatosuite.agent.models.moe.layer import GATES, MoEConfig, MoELayer, Routing, cv_squared

__all__ = ["GATES", "MoEConfig", "MoELayer", "Routing", "cv_squared"]
