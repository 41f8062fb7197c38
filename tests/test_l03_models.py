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


def test_continue_pretraining_changes_the_encoder_not_the_head(tmp_path, tiny):
    import torch

    from ftkit.lessons.l03_models import continue_pretraining

    model = ftkit.load_text_classifier("tiny-bert", num_labels=2, profile="smoke", seed=0).model
    head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    word = model.base_model.embeddings.word_embeddings.weight.clone()
    texts = ["the room was clean and quiet", "the battery dies by noon", "great screen, slow keys"] * 4
    out, info = continue_pretraining(model, tiny.tokenizer, texts, texts[:3], tmp_path, max_steps=3, seed=0)
    assert out is model and info["steps"] == 3 and set(info) >= {"masked-word loss before", "after"}
    assert all(torch.equal(v, model.classifier.state_dict()[k]) for k, v in head.items())
    assert not torch.equal(word, model.base_model.embeddings.word_embeddings.weight)
    with pytest.raises(ConfigError, match="max_steps"):
        continue_pretraining(model, tiny.tokenizer, texts, texts, tmp_path, max_steps=0)


def test_compare_augmentation_keeps_the_budget(tmp_path):
    import pandas as pd

    from ftkit.lessons.l03_sentiment import compare_augmentation

    data = ftkit.load_text_table(ftkit.sample_path("sentiment", "sentiment_en.csv"), max_rows=40, seed=0)
    small = data.train.head(8)
    make = lambda: ftkit.load_text_classifier("tiny-bert", num_labels=2, profile="smoke", seed=0).model  # noqa: E731
    tok = ftkit.load_text_classifier("tiny-bert", num_labels=2, profile="smoke").tokenizer
    recipe = ftkit.TextRecipe(num_train_epochs=2, learning_rate=1e-3)
    table = compare_augmentation(
        make, tok, data, small, recipe, {"as is": None, "masked": {"method": "mask", "share": 0.2}}, tmp_path
    )
    assert isinstance(table, pd.DataFrame)
    assert table["rows"].tolist() == [8, 16] and table["epochs"].tolist() == [2, 1]
    assert table["test F1, seed 0"].between(0, 1).all()
    with pytest.raises(ConfigError, match="at least one seed"):
        compare_augmentation(make, tok, data, small, recipe, {"as is": None}, tmp_path, seeds=())
