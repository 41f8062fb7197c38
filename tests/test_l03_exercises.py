"""Lesson 03's exercise checks compute the truth themselves: right answers pass, wrong and missing
ones print a hint and return False, never raise (tiny random BERT, seconds)."""

import numpy as np
import pytest
from tiny_data import SENTIMENT_CSV, tiny_bert

from ftkit.data.text import load_text_table
from ftkit.lessons.l03_exercises import (
    check_head_size,
    check_padding_share,
    check_test_f1,
    check_trainable,
    head_size,
    padding_share,
)
from ftkit.metrics import f1_macro
from ftkit.peft_methods import apply_peft, peft_settings
from ftkit.textcls import predict_proba

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return load_text_table(SENTIMENT_CSV, max_rows=40, seed=0, split=(0.6, 0.2, 0.2))


@pytest.fixture(scope="module")
def loaded(data):
    return tiny_bert(data)


def _says(capsys, start):
    out = capsys.readouterr().out
    assert out.startswith(start) and out.count("\n") == 1, out


def test_padding_share(loaded, data, capsys):
    texts = list(data.train["text"])
    lengths = [len(loaded.tokenizer(t)["input_ids"]) for t in texts]
    truth = 1 - np.mean(lengths) / 512
    assert padding_share(loaded.tokenizer, texts) == pytest.approx(truth)
    assert 0.8 < truth < 1  # short reviews: most of a 512-token batch is padding
    assert check_padding_share(round(truth, 3), loaded.tokenizer, texts)
    _says(capsys, "Right:")
    assert not check_padding_share(1 - truth, loaded.tokenizer, texts)
    _says(capsys, "Not yet:")
    assert not check_padding_share(None, loaded.tokenizer, texts)
    _says(capsys, "No answer yet")


def test_head_size(loaded, capsys):
    config = loaded.model.config
    truth = config.hidden_size * config.num_labels + config.num_labels
    assert head_size(loaded.model) == truth
    assert check_head_size(truth, loaded.model)
    _says(capsys, "Right:")
    assert not check_head_size(config.hidden_size * config.num_labels, loaded.model)  # forgot the bias
    _says(capsys, "Not yet:")
    assert not check_head_size("many", loaded.model)
    _says(capsys, "Not yet:")


def test_trainable_on_a_peft_model(data, capsys):
    model = apply_peft(
        tiny_bert(data).model,
        peft_settings("prefix", task_type="SEQ_CLS", num_virtual_tokens=10),
        verbose=False,
    )
    capsys.readouterr()  # the loader's line
    config = model.config
    by_hand = 10 * config.num_hidden_layers * 2 * config.hidden_size + head_size(model)
    assert check_trainable(by_hand, model)
    _says(capsys, "Right:")
    assert not check_trainable(by_hand - head_size(model), model)  # forgot the head
    _says(capsys, "Not yet:")
    assert not check_trainable(None, model)
    _says(capsys, "No answer yet")


def test_test_f1(loaded, data, capsys):
    pred = predict_proba(loaded.model, loaded.tokenizer, data.test["text"]).argmax(axis=1)
    truth = f1_macro(pred, np.asarray(data.test["label"]))
    assert check_test_f1(truth, loaded.model, loaded.tokenizer, data.test)
    _says(capsys, "Right:")
    assert not check_test_f1(truth + 0.2, loaded.model, loaded.tokenizer, data.test)
    _says(capsys, "Not yet:")
    assert not check_test_f1(None, None, loaded.tokenizer, data.test)
    _says(capsys, "No model yet")
