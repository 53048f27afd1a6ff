"""Checkpoint integrity: config.json records the sha256 of the files it describes, and a file changed
after it was written (one flipped bit) is refused on load, naming the file and the fix."""

import json

import pytest
import torch

from gatosuite.agent.checkpoint import (
    CONFIG_FILE,
    HASHES,
    MODEL_FILE,
    STATE_FILE,
    CorruptCheckpointError,
    file_sha256,
    load_model,
    load_trainer_state,
    save_checkpoint,
)
from gatosuite.agent.families import get_family
from gatosuite.tokenization import Vocabulary


@pytest.fixture
def ckpt(tmp_path):
    family = get_family("gato")
    torch.manual_seed(0)
    model = family.model(family.build("nano", Vocabulary(400).size, context=64))
    return save_checkpoint(tmp_path / "checkpoint", model, None, {"tasks": ["cartpole"]},
                           trainer_state={"step": 7, "w": torch.arange(10.0)})


def _flip_a_bit(path, at=-100):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_recorded_hashes_are_those_of_the_files(ckpt):
    meta = json.loads((ckpt / CONFIG_FILE).read_text())
    assert meta[HASHES] == {MODEL_FILE: file_sha256(ckpt / MODEL_FILE), STATE_FILE: file_sha256(ckpt / STATE_FILE)}
    load_model(ckpt)
    assert load_trainer_state(ckpt)["step"] == 7


def test_a_flipped_bit_in_the_weights_is_refused(ckpt):
    from safetensors.torch import load_file

    before = {k: v.clone() for k, v in load_file(str(ckpt / MODEL_FILE)).items()}  # (load_file maps the file)
    _flip_a_bit(ckpt / MODEL_FILE)  # inside the last tensor: the file still parses, with one other weight
    after = load_file(str(ckpt / MODEL_FILE))  # so safetensors alone sees nothing wrong
    assert sum(int((before[k] != after[k]).sum()) for k in before) == 1
    with pytest.raises(CorruptCheckpointError, match=rf"'{ckpt / MODEL_FILE}' is not the file that was saved \(its "
                                                     r"sha256 differs .*\); copy the checkpoint again"):
        load_model(ckpt)
    _flip_a_bit(ckpt / MODEL_FILE)  # the same bit back: the same file, accepted again
    load_model(ckpt)


def test_a_flipped_bit_in_the_trainer_state_is_refused(ckpt):
    _flip_a_bit(ckpt / STATE_FILE, at=-30)
    with pytest.raises(CorruptCheckpointError, match=rf"'{ckpt / STATE_FILE}' is not the file that was saved"):
        load_trainer_state(ckpt)


def test_a_checkpoint_from_before_the_hashes_loads(ckpt):
    meta = json.loads((ckpt / CONFIG_FILE).read_text())
    del meta[HASHES]
    (ckpt / CONFIG_FILE).write_text(json.dumps(meta))
    model, _ = load_model(ckpt)
    assert load_trainer_state(ckpt)["step"] == 7 and model.cfg.context == 64
