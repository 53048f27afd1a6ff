import subprocess
import sys

import pytest

from gatosuite.tokenization import corpus
from gatosuite.tokenization.text import TextModel, default_text_model, train_text_model


def test_roundtrip_and_unseen_characters(text_model):
    for s in ["go to the red ball", "put the grey key next to the blue box", "Ünïcödé ✓ 漢字"]:
        ids = text_model.encode([s])[0]
        assert all(0 <= i < text_model.vocab_size for i in ids)
        assert text_model.decode(ids) == s  # byte fallback: nothing becomes <unk>
    assert 0 not in text_model.encode(["漢字"])[0]


def test_save_load_and_fingerprint(text_model, tmp_path):
    path = text_model.save(tmp_path)
    assert path.name == "tokenizer.model"
    loaded = TextModel.load(tmp_path)
    assert loaded.fingerprint == text_model.fingerprint
    assert loaded.encode(["pick up a key"]) == text_model.encode(["pick up a key"])


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="gatosuite text-model"):
        TextModel.load(tmp_path / "nothing")
    (tmp_path / "tokenizer.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        TextModel.load(tmp_path)


def test_vocab_too_small():
    with pytest.raises(ValueError, match="too small"):
        train_text_model(["a b c"], 100)


@pytest.mark.slow
def test_stdlib_docstrings_are_read_without_importing(tmp_path):
    # `antigravity` would open a browser if imported; the corpus parses it instead.
    code = ("import sys; from gatosuite.tokenization.corpus import stdlib_docstrings; "
            "lines = list(stdlib_docstrings()); assert 'antigravity' not in sys.modules; print(len(lines))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert int(out.stdout) > 10_000


def test_default_corpus_includes_suite_and_user_texts(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("a sentence only I wrote\n\nanother one\n", encoding="utf-8")
    lines = list(corpus.default_corpus([f], include_stdlib=False))
    assert "go to the red ball" in lines and "a sentence only I wrote" in lines and "" not in lines
    key = corpus.corpus_key([f], include_stdlib=False)
    f.write_text("changed\n", encoding="utf-8")
    assert corpus.corpus_key([f], include_stdlib=False) != key


def test_bad_user_corpus_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(corpus.read_txt_files([tmp_path / "missing.txt"]))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        list(corpus.read_txt_files([bad]))


def test_default_model_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GATOSUITE_CACHE", str(tmp_path))
    a = default_text_model(400, include_stdlib=False)
    cached = list((tmp_path / "text").glob("*.model"))
    assert len(cached) == 1
    b = default_text_model(400, include_stdlib=False)
    assert a.fingerprint == b.fingerprint
