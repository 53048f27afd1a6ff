"""PathNet's genetic operators (Fernando et al. 2017, section 2): random paths, point mutation and the binary
tournament, over a population whose whole state is plain JSON (a killed evolution resumes from it).

A path is an (L, N) integer matrix of module indices in [0, M). Mutation visits every entry and, with
probability 1/(N*L), adds an offset drawn uniformly from {-2, ..., 2}, wrapping around the layer's M modules
(so an entry may also mutate to itself, as the definition allows). A tournament draws two distinct members;
the fitter one (the first drawn on a tie) wins and is kept as it is; the loser is overwritten by a mutated copy
of the winner. `Tournaments` runs K of them at once, on disjoint pairs, as the strategy of the Ray driver
(evaluation/population.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gatosuite.errors import ConfigError


def random_path(rng: np.random.Generator, n_layer: int, active: int, modules: int) -> np.ndarray:
    """(L, N): N distinct modules drawn per layer."""
    return np.stack([rng.choice(modules, size=active, replace=False) for _ in range(n_layer)]).astype(np.int64)


def mutate(path: np.ndarray, rng: np.random.Generator, modules: int) -> np.ndarray:
    """A copy of `path` with each entry, with probability 1/(N*L), shifted by U{-2..2} modulo `modules`."""
    path = np.asarray(path, dtype=np.int64)
    hit = rng.random(path.shape) < 1.0 / path.size
    offset = rng.integers(-2, 3, size=path.shape)
    return np.where(hit, (path + offset) % modules, path)


@dataclass
class Population:
    """Paths under evolution, with their last fitness and the generator that drives the operators."""

    paths: list[np.ndarray]
    modules: int
    fitness: list[float | None] = field(default_factory=list)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    generation: int = 0

    def __post_init__(self) -> None:
        if len(self.paths) < 2:
            raise ConfigError(f"a tournament needs a population of at least 2 paths, got {len(self.paths)}")
        self.paths = [np.asarray(p, dtype=np.int64) for p in self.paths]
        if not self.fitness:
            self.fitness = [None] * len(self.paths)

    @classmethod
    def random(cls, size: int, n_layer: int, active: int, modules: int, seed: int) -> Population:
        rng = np.random.default_rng(seed)
        return cls([random_path(rng, n_layer, active, modules) for _ in range(size)], modules, rng=rng)

    def pair(self) -> tuple[int, int]:
        """Two distinct members to compete."""
        return self.pairs(1)[0]

    def pairs(self, k: int) -> list[tuple[int, int]]:
        """k disjoint pairs, for k tournaments run at once: no member is in two, so each pair settles on its
        own whatever order they finish in (k = 1 draws exactly what `pair` does)."""
        if not 1 <= 2 * k <= len(self.paths):
            raise ConfigError(f"{k} tournaments at once need 2 x {k} distinct members, but the population has "
                              f"{len(self.paths)}; run fewer tournaments per generation or grow the population")
        drawn = self.rng.choice(len(self.paths), size=2 * k, replace=False)
        return [(int(drawn[2 * i]), int(drawn[2 * i + 1])) for i in range(k)]

    def settle(self, a: int, b: int, fitness_a: float, fitness_b: float) -> tuple[int, int]:
        """Record both fitnesses; the loser becomes a mutated copy of the winner. Returns (winner, loser)."""
        winner, loser = (a, b) if fitness_a >= fitness_b else (b, a)
        self.fitness[a], self.fitness[b] = float(fitness_a), float(fitness_b)
        self.paths[loser] = mutate(self.paths[winner], self.rng, self.modules)
        self.fitness[loser] = None  # a new path: not yet evaluated
        self.generation += 1
        return winner, loser

    def best(self) -> int:
        """The member with the highest recorded fitness."""
        scored = [(f, i) for i, f in enumerate(self.fitness) if f is not None]
        if not scored:
            raise ConfigError("no path of the population has been evaluated yet")
        return max(scored)[1]

    def to_dict(self) -> dict[str, Any]:
        return {"paths": [p.tolist() for p in self.paths], "modules": self.modules, "fitness": self.fitness,
                "generation": self.generation, "rng": self.rng.bit_generator.state}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Population:
        rng = np.random.default_rng()
        rng.bit_generator.state = d["rng"]
        return cls([np.array(p, dtype=np.int64) for p in d["paths"]], int(d["modules"]), list(d["fitness"]),
                   rng, int(d["generation"]))


@dataclass
class Tournaments:
    """K binary tournaments a generation over a Population, as an evolution strategy for
    evaluation/population.py: each generation's candidates are the paths of K disjoint pairs (two jobs a
    pair, in pair order), and each pair settles on its two scores, pair after pair in job order."""

    population: Population
    tournaments: int = 1
    """K: tournaments a generation (2K candidate jobs, which run at once)."""

    def __post_init__(self) -> None:
        if not 1 <= 2 * self.tournaments <= len(self.population.paths):
            raise ConfigError(f"{self.tournaments} tournaments a generation need at least "
                              f"{2 * self.tournaments} paths; the population has {len(self.population.paths)}")

    @classmethod
    def random(cls, size: int, tournaments: int, shape: tuple[int, int, int], seed: int) -> Tournaments:
        """A population of `size` random paths of `shape` (L, N, M)."""
        n_layer, active, modules = shape
        return cls(Population.random(size, n_layer, active, modules, seed), tournaments)

    def propose(self) -> list[dict[str, Any]]:
        """This generation's candidates: {"member", "path"} for both members of each pair, pair by pair."""
        pop = self.population
        return [{"member": i, "path": pop.paths[i].tolist()} for pair in pop.pairs(self.tournaments) for i in pair]

    def apply(self, candidates: Sequence[dict[str, Any]], scores: Sequence[float]) -> dict[str, Any]:
        """Settle each pair on its scores (in job order); the generation's winners and losers, by member."""
        winners, losers = [], []
        for k in range(0, len(candidates), 2):
            w, lost = self.population.settle(candidates[k]["member"], candidates[k + 1]["member"],
                                             scores[k], scores[k + 1])
            winners.append(w)
            losers.append(lost)
        return {"winners": winners, "losers": losers}

    def best(self) -> dict[str, Any]:
        """The fittest member now in the population, with its path and score."""
        i = self.population.best()
        return {"member": i, "path": self.population.paths[i].tolist(), "score": self.population.fitness[i]}

    def to_dict(self) -> dict[str, Any]:
        return {"tournaments": self.tournaments, "population": self.population.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tournaments:
        return cls(Population.from_dict(d["population"]), int(d["tournaments"]))
