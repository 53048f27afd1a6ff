"""A family's own evolution at a later task's start in the continual protocol (evaluation/continual_search.py),
through real checkpoints and synthetic episodes: PathNet's fittest path and muNet's best child become the
stage's start, frozen earlier tasks stay bitwise as they were, the start keeps the previous stage's carried
meta, a search killed after a generation resumes to the uninterrupted one, and families that do not evolve
or a search of 0 generations change nothing."""

import json

import numpy as np
import pytest
import torch

from gatosuite.agent.candidate_training import task_data
from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.families import get_family
from gatosuite.agent.models.munet import continual as munet_continual
from gatosuite.agent.models.pathnet import continual as pathnet_continual
from gatosuite.errors import ConfigError
from gatosuite.evaluation.continual_run import ContinualSettings
from gatosuite.evaluation.continual_search import search_stage, searches
from gatosuite.tokenization import Vocabulary

SMALL = dict(context=64, n_layer=2, n_embd=32, n_head=2, ffn=64)
META = {"tasks": ["cartpole"], "train_args": {"recipe": "gatosuite-2026", "lr": 0.003}}


def _settings(model, search=2, **kw):
    return ContinualSettings(tasks=("cartpole", "pendulum"), model=model, window=64, search=search,
                             search_size=4, search_steps=2, **kw)


@pytest.fixture(scope="module")
def text():
    return task_data("pendulum", None, None, 4096, True)[0]  # the synthetic runs' text model


def _stage0(family, text, folder, **extra):
    torch.manual_seed(0)
    fam = get_family(family)
    model = fam.model(fam.build("nano", Vocabulary(text.vocab_size).size, **SMALL, **extra))
    save_checkpoint(folder / "stage0", model, text, META)
    return folder / "stage0"


def _batch(text):
    from gymnasium import spaces

    from gatosuite.agent.batch import collate_rows
    from gatosuite.tokenization import Tokenizer

    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2),
                                vocab=Vocabulary(text.vocab_size))
    rng = np.random.default_rng(0)
    rows = [[tok.encode_episode(rng.normal(size=(5, 4)).astype(np.float32), rng.integers(0, 2, 5))]
            for _ in range(2)]
    return collate_rows(rows, tok.vocab)


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(batch)[0].clone()


def test_pathnet_starts_the_task_on_its_fittest_path_and_a_killed_search_resumes(text, tmp_path):
    prev = _stage0("pathnet", text, tmp_path, modules_per_layer=4, active=2)
    pathnet_continual.stage_init(prev, tmp_path / "start", 1, 0, text)
    drawn, _ = load_model(tmp_path / "start")
    record = search_stage(_settings("pathnet"), prev, tmp_path / "start", "pendulum", 1, None, tmp_path / "run",
                          text)
    assert record["generations"] == 2 and record["candidates_trained"] == 8 and record["candidate_steps"] == 16
    state = json.loads((tmp_path / "run" / "population.json").read_text())
    population = state["strategy"]["population"]
    best = int(np.nanargmax([-np.inf if f is None else f for f in population["fitness"]]))
    assert record["path"] == population["paths"][best] and record["best_score"] == population["fitness"][best]
    start, meta = load_model(tmp_path / "start")
    assert start.path.tolist() == record["path"]
    assert meta["train_args"] == META["train_args"]  # the previous stage's recipe is carried
    assert start.frozen.tolist() == drawn.frozen.tolist()
    for (name, p), q in zip(start.named_parameters(), drawn.parameters()):
        assert torch.equal(p, q) and p.requires_grad == q.requires_grad, name  # only the path changed

    pathnet_continual.stage_init(prev, tmp_path / "start2", 1, 0, text)  # killed after its first generation
    search_stage(_settings("pathnet", search=1), prev, tmp_path / "start2", "pendulum", 1, None, tmp_path / "run2",
                 text)
    resumed = search_stage(_settings("pathnet"), prev, tmp_path / "start2", "pendulum", 1, None,
                           tmp_path / "run2", text)
    assert resumed == record


def test_munet_starts_the_task_from_its_best_child_and_keeps_earlier_routes_bitwise(text, tmp_path):
    prev = _stage0("munet", text, tmp_path)
    before, _ = load_model(prev)
    munet_continual.stage_init(prev, tmp_path / "start", 1, 0, text)
    record = search_stage(_settings("munet", search=3), prev, tmp_path / "start", "pendulum", 1, None,
                          tmp_path / "run", text)
    assert record["generations"] == 3
    assert record["candidates_trained"] == 4 and record["candidate_steps"] == 8  # route scored untrained
    start, meta = load_model(tmp_path / "start")
    assert meta["train_args"] == META["train_args"]
    if record["child"] is not None:  # the best child, with the weights it trained as a candidate
        child, _ = load_model(tmp_path / "run" / "children" / record["child"] / "checkpoint")
        for (name, p), q in zip(start.state_dict().items(), child.state_dict().values()):
            assert torch.equal(p, q), name
    else:  # no child beat the route: the seeded mutation stays
        assert start.route.task == ""
    assert start.select_task("cartpole")
    assert torch.equal(_logits(start, _batch(text)), _logits(before, _batch(text)))


def test_a_family_without_evolution_or_a_search_of_zero_generations_changes_nothing(text, tmp_path):
    assert searches("pathnet") and searches("munet") and not searches("gato")
    assert search_stage(_settings("gato"), tmp_path, tmp_path, "pendulum", 1, None, tmp_path / "run", text) is None
    assert search_stage(_settings("pathnet", search=0), tmp_path, tmp_path, "pendulum", 1, None, tmp_path / "run",
                        text) is None
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="population of at least 2"):
        ContinualSettings(tasks=("cartpole", "pendulum"), search=1, search_size=1)
