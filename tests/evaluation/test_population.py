"""evaluation/population.py: generations of candidate jobs on Ray. The same winners on 1 worker and on 2; a
killed run resumes to the uninterrupted one; a tournament keeps its winner; a corrupt state file and a
second writer are clear errors; a real PathNet candidate trains and scores through Ray.

The driver's checks use `distance_candidate` (no training: minus a path's distance to a target, plus seeded
noise); one test trains real PathNet candidates. The Ray tests share one local Ray (about 5 s to start)."""

import json

import numpy as np
import pytest

from gatosuite.agent.families import get_family
from gatosuite.agent.models.pathnet.candidate import CandidateOptions, distance_candidate, run_candidate
from gatosuite.agent.models.pathnet.evolution import Tournaments
from gatosuite.errors import ConfigError, CorruptFileError, RunExistsError
from gatosuite.evaluation.population import STATE_FILE, EvolveSettings, evolve, job_seed
from gatosuite.locks import BusyError
from gatosuite.raytools import init_ray

SHAPE = (3, 2, 6)  # (L, N, M)
TARGET = [[0, 1], [2, 3], [4, 5]]


def _strategy(tournaments=3, size=8, seed=5):
    return Tournaments.random(size, tournaments, SHAPE, seed)


def _settings(generations=6, **kw):
    return EvolveSettings(task="cartpole", generations=generations, steps=1, seed=7,
                          options={"target": TARGET, "noise": 0.5}, **kw)


def _run(tmp_path, name, fn=distance_candidate, resume=False, strategy=None, **kw):
    return evolve(strategy or _strategy(), fn, _settings(**kw), tmp_path / name, resume=resume, progress=False)


def _same(a, b):
    assert a.generation == b.generation and a.history == b.history
    assert a.strategy.to_dict() == b.strategy.to_dict()


@pytest.fixture(scope="module")
def ray_local():
    init_ray(2)  # before `import ray`: a local Ray is kept on loopback by a variable ray reads on import
    import ray

    yield ray
    ray.shutdown()


def test_job_seeds_come_from_the_run_seed_generation_and_index_alone():
    seeds = {job_seed(s, g, i) for s in range(3) for g in range(3) for i in range(3)}
    assert len(seeds) == 27 and job_seed(1, 2, 0) == job_seed(1, 2, 0)


def test_evolution_moves_the_population_towards_the_target(tmp_path):
    r = _run(tmp_path, "run", generations=25)
    assert r.history[-1]["best_so_far"] > r.history[0]["best"]
    assert r.best["score"] == max(f for f in r.strategy.population.fitness if f is not None)


def test_each_tournament_keeps_its_winner_and_overwrites_its_loser_with_a_mutated_copy(tmp_path):
    M = SHAPE[2]
    before = [p.copy() for p in _run(tmp_path, "run", generations=2).strategy.population.paths]
    r = _run(tmp_path, "run", generations=3, resume=True)
    after, gen = r.strategy.population.paths, r.history[-1]
    assert len(gen["winners"]) == 3 and len(set(gen["winners"] + gen["losers"])) == 6  # disjoint pairs
    for k, (w, lost) in enumerate(zip(gen["winners"], gen["losers"])):
        assert gen["scores"][2 * k] != gen["scores"][2 * k + 1]  # noise: no ties to read
        np.testing.assert_array_equal(after[w], before[w])
        assert np.isin((after[lost] - before[w]) % M, [0, 1, 2, M - 2, M - 1]).all()
        assert r.strategy.population.fitness[lost] is None
        assert r.strategy.population.fitness[w] == max(gen["scores"][2 * k:2 * k + 2])
    untouched = set(range(8)) - set(gen["winners"] + gen["losers"])
    assert untouched and all(np.array_equal(after[i], before[i]) for i in untouched)


def test_a_run_stopped_after_k_generations_resumes_to_the_uninterrupted_one(tmp_path):
    whole = _run(tmp_path, "whole", generations=6)
    _run(tmp_path, "part", generations=2)
    _same(_run(tmp_path, "part", generations=6, resume=True), whole)


def test_a_run_killed_inside_a_generation_resumes_from_the_last_finished_one(tmp_path):
    def killed_in_generation_3(job):
        if job["generation"] == 2 and job["index"] == 1:
            raise KeyboardInterrupt
        return distance_candidate(job)

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "killed", fn=killed_in_generation_3)
    assert json.loads((tmp_path / "killed" / STATE_FILE).read_text())["generation"] == 2
    _same(_run(tmp_path, "killed", resume=True), _run(tmp_path, "whole"))


def test_a_corrupt_state_file_is_one_clear_error(tmp_path):
    _run(tmp_path, "run", generations=1)
    state = tmp_path / "run" / STATE_FILE
    good = state.read_text()
    for bad in (good[: len(good) // 2], "[]", json.dumps({**json.loads(good), "strategy": {"tournaments": 3}})):
        state.write_text(bad)
        with pytest.raises(CorruptFileError, match=f"'{state}'.*restore it, or delete it") as e:
            _run(tmp_path, "run", resume=True)
        assert "\n" not in str(e.value)


def test_a_second_writer_on_the_run_folder_refuses(tmp_path):
    refused = []

    def starts_a_second_run(job):
        if not refused:
            with pytest.raises(BusyError, match=r"evolving a population in .*use another run folder") as e:
                _run(tmp_path, "run", resume=True)
            refused.append(str(e.value))
        return distance_candidate(job)

    _run(tmp_path, "run", fn=starts_a_second_run, generations=1)
    assert len(refused) == 1


def test_a_used_folder_and_other_settings_are_refused(tmp_path):
    _run(tmp_path, "run", generations=1)
    with pytest.raises(RunExistsError, match="pass resume"):
        _run(tmp_path, "run")
    with pytest.raises(ConfigError, match="steps: 1 there, 2 here"):
        evolve(_strategy(), distance_candidate, EvolveSettings(task="cartpole", steps=2, seed=7, options={
            "target": TARGET, "noise": 0.5}), tmp_path / "run", resume=True, progress=False)
    with pytest.raises(ConfigError, match="started from another population"):
        _run(tmp_path, "run", resume=True, strategy=_strategy(seed=6))


def test_a_candidate_without_a_finite_score_stops_the_run_with_a_clear_error(tmp_path):
    def nan(job):
        return {"score": float("nan")}

    with pytest.raises(ConfigError, match="job 0 of generation 1; it must return a dict with a finite number"):
        _run(tmp_path, "run", fn=nan)
    assert not (tmp_path / "run" / STATE_FILE).exists()


def test_progress_shows_the_task_generation_and_best_score(tmp_path, capsys):
    evolve(_strategy(), distance_candidate, _settings(generations=2), tmp_path / "run", progress=True)
    err = capsys.readouterr().err
    assert "evolve cartpole" in err and "generation 2/2" in err and "best -" in err


def test_ray_needs_an_importable_candidate(tmp_path):
    with pytest.raises(ConfigError, match="top-level function of an importable module"):
        _run(tmp_path, "run", fn=lambda job: {"score": 0.0}, workers=2)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_one_worker_and_two_on_ray_give_the_same_winners(ray_local, tmp_path):
    one = _run(tmp_path, "one")
    two = _run(tmp_path, "two", workers=2)
    _same(one, two)
    _run(tmp_path, "mixed", generations=3)  # begun in this process, finished on Ray
    _same(_run(tmp_path, "mixed", workers=2, resume=True), one)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_real_pathnet_candidates_train_and_score_through_ray(ray_local, tmp_path):
    evo = get_family("pathnet").evolution  # the family's binding, as the registry gives it
    opts = evo.options()
    s = EvolveSettings(task="cartpole", generations=1, steps=3, options=opts, workers=2)
    r = evolve(evo.strategy(opts, 4, 1, seed=0), evo.run_candidate, s, tmp_path, progress=False)
    scores = r.history[0]["scores"]
    assert len(scores) == 2 and all(np.isfinite(scores)) and all(-20 < x < 0 for x in scores)
    # the same first job in this process gives the same score, bitwise: the seeds and one thread fix it
    path = evo.strategy(opts, 4, 1, seed=0).propose()[0]["path"]
    job = {"task": "cartpole", "candidate": {"path": path}, "seed": job_seed(0, 0, 0), "steps": 3, "options": opts}
    assert run_candidate(job)["score"] == scores[0]


@pytest.mark.slow
def test_a_pathnet_candidate_trains_on_a_collected_dataset(tmp_path, text_model):
    from gatosuite.datasets.collect import collect

    collect("cartpole", 3, tmp_path / "data", progress=False)
    opts = CandidateOptions(root=str(tmp_path / "data"), text_model=str(text_model.save(tmp_path / "text")))
    job = {"task": "cartpole", "candidate": {"path": [[0, 1], [2, 3]]}, "seed": 3, "steps": 2,
           "options": opts.to_dict()}
    a, b = run_candidate(job), run_candidate(job)
    assert np.isfinite(a["score"]) and a["score"] == b["score"] and a["train_loss"] > 0
