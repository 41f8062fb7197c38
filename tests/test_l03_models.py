"""Lesson 03's model-choice helper: coverage numbers computed from the tokenizer, not assumed."""

import pytest

import ftkit
from ftkit.errors import ConfigError
from ftkit.lessons.l03_models import architecture, tokenizer_coverage, vocabulary_table


@pytest.fixture(scope="module")
def tiny():
    return ftkit.load_text_classifier("tiny-bert", num_labels=2, profile="smoke")


def test_english_is_covered_and_unknown_script_is_unk(tiny):
    tok = tiny.tokenizer
    en = tokenizer_coverage(tok, ["the room was clean"])
    assert en["[UNK] share"] == 0.0 and en["byte-fragment share"] == 0.0
    assert en["tokens per character"] == pytest.approx(len(tok.tokenize("the room was clean")) / 18, abs=0.01)
    runes = tokenizer_coverage(tok, ["ᚠᚢᚦᚨᚱᚲ"])  # runes: not in the English WordPiece vocabulary
    assert runes["[UNK] share"] == 1.0


def test_byte_level_tokenizer_has_fragments_not_unk():
    lm = ftkit.load_causal_lm("tiny-qwen2", profile="smoke")
    zh = tokenizer_coverage(lm.tokenizer, ["这家酒店的服务非常好。"])
    assert zh["[UNK] share"] == 0.0 and zh["byte-fragment share"] > 0.5
    assert architecture(lm.model) == "decoder"


def test_table_rows_and_errors(tiny):
    table = vocabulary_table({"tiny": tiny}, {"English": ["a b"], "other": ["c d"]})
    assert table["language"].tolist() == ["English", "other"]
    assert set(table["architecture"]) == {"encoder"}
    assert table["vocabulary"].iloc[0] == len(tiny.tokenizer)
    with pytest.raises(ConfigError):
        tokenizer_coverage(tiny.tokenizer, [])
    with pytest.raises(ConfigError, match="needs a tokenizer"):
        vocabulary_table({"x": (tiny.model, None)}, {"English": ["a"]})
