"""Dataset cards (datasets/cards.py): written beside every collected dataset, listed by `gatosuite datasets`."""

import json

from gatosuite.cli import main
from gatosuite.datasets import minari_store
from gatosuite.datasets.cards import card_path, folder_bytes, read_cards
from gatosuite.datasets.collect import collect
from gatosuite.envs import SUITE


def test_collection_writes_a_card_with_the_datasets_own_numbers(tmp_path):
    collect("babyai-gotoredball", 4, tmp_path, progress=False)
    collect("pendulum", 2, tmp_path, progress=False, noise=0.2)
    card = json.loads(card_path(tmp_path, "babyai-gotoredball").read_text())
    eps = list(minari_store.iter_episodes(tmp_path, "babyai-gotoredball"))
    assert card["episodes"] == 4 and card["steps"] == sum(len(e) for e in eps)
    assert card["success_rate"] == sum(e.success for e in eps) / 4
    assert card["expert_reference"] == SUITE["babyai-gotoredball"].expert_score and card["split"] == "train"
    assert card["collector"] == "babyai-bot" and card["seeds"] == [0, 3]
    assert card["size_bytes"] == folder_bytes(minari_store.dataset_dir(tmp_path, "babyai-gotoredball")) > 0
    pend = json.loads(card_path(tmp_path, "pendulum").read_text())
    assert pend["success_rate"] is None and "0.2 random-action noise" in pend["collector"]
    assert abs(pend["mean_return"] - sum(e.ret for e in minari_store.iter_episodes(tmp_path, "pendulum")) / 2) < 1e-9


def test_a_dataset_without_a_card_gets_one_and_the_cli_lists_them(tmp_path, capsys):
    collect("cartpole", 2, tmp_path, progress=False)
    written = json.loads(card_path(tmp_path, "cartpole").read_text())
    card_path(tmp_path, "cartpole").unlink()  # as collected before cards existed
    [again] = read_cards(tmp_path)
    assert {k: v for k, v in again.items() if k != "collected"} == \
        {k: v for k, v in written.items() if k != "collected"}
    main(["datasets", "--root", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["task", "eps", "steps"] and out[1].split()[:3] == ["cartpole", "2", "1000"]
    main(["datasets", "--root", str(tmp_path), "--json"])
    assert json.loads(capsys.readouterr().out)[0]["task"] == "cartpole"


def test_a_corrupt_card_is_one_error_line(tmp_path, capsys):
    import pytest

    collect("cartpole", 1, tmp_path, progress=False)
    card_path(tmp_path, "cartpole").write_text("{not json")
    with pytest.raises(SystemExit) as stop:
        main(["datasets", "--root", str(tmp_path)])
    assert str(stop.value.code).startswith("error: dataset card") and "delete it" in str(stop.value.code)
