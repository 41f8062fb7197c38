"""Tests for ftkit.data.text: reading text tables, column detection, splits, errors, to_hf."""

import json

import numpy as np
import pytest

from ftkit.data.text import class_weights, load_text_table, make_imbalanced
from ftkit.errors import ConfigError, DataError

WORDS = "good bad fine awful great poor nice dull".split()


def _rows(n, labels=("negative", "positive")):
    """n (text, label) rows with every label equally often and distinct texts."""
    return [(f"review {i} was {WORDS[i % len(WORDS)]}", labels[i % len(labels)]) for i in range(n)]


def _write_csv(path, rows, header=("text", "label"), sep=",", extra=None):
    lines = [sep.join(header)] if header else []
    for i, row in enumerate(rows):
        cells = list(row) + ([extra(i)] if extra else [])
        lines.append(sep.join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_with_header_string_labels_and_extra_column(tmp_path, capsys):
    path = _write_csv(
        tmp_path / "reviews.csv", _rows(100), header=("text", "label", "kind"), extra=lambda i: f"k{i % 3}"
    )
    data = load_text_table(path)
    out = capsys.readouterr().out
    assert "reviews.csv: text='text', label='label' (2 classes: negative, positive), 100 rows" in out
    assert data.classes == ["negative", "positive"]
    assert data.label2id == {"negative": 0, "positive": 1} and data.id2label == {0: "negative", 1: "positive"}
    assert (len(data.train), len(data.val), len(data.test)) == (80, 10, 10)
    assert list(data.train.columns) == ["text", "label", "kind"]
    assert data.train["label"].dtype == "int64"
    summary = data.summary()
    assert summary.loc["val", "negative"] == summary.loc["val", "positive"] == 5  # stratified
    assert summary["total"].sum() == 100
    # no row is in two splits
    texts = [set(part["text"]) for part in (data.train, data.val, data.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    # each text keeps its own label
    original = dict(_rows(100))
    assert all(
        original[t] == data.classes[y] for t, y in zip(data.test["text"], data.test["label"], strict=True)
    )


def test_split_is_seeded(tmp_path):
    path = _write_csv(tmp_path / "reviews.csv", _rows(100))
    a = load_text_table(path, seed=0)
    b = load_text_table(path, seed=0)
    c = load_text_table(path, seed=1)
    assert list(a.test["text"]) == list(b.test["text"])
    assert list(a.test["text"]) != list(c.test["text"])


def test_label_first_tsv_with_different_text_names_and_eval_file(tmp_path, capsys):
    rows = [(label, text) for text, label in _rows(100, labels=("0", "1"))]
    train = _write_csv(tmp_path / "train.tsv", rows, header=("label", "sentence"), sep="\t")
    dev = _write_csv(tmp_path / "dev.tsv", rows[:20], header=("label", "content"), sep="\t")
    data = load_text_table(train, eval_file=dev)
    out = capsys.readouterr().out
    assert "train.tsv: text='sentence', label='label' (2 classes: 0, 1), 100 rows" in out
    assert "dev.tsv: text='content', label='label'" in out
    assert (len(data.train), len(data.val), len(data.test)) == (90, 10, 20)
    assert data.sources["test"] == "dev.tsv"
    assert data.test["text"].iloc[0] == rows[0][1]


def test_numeric_labels_sort_numerically(tmp_path):
    path = _write_csv(tmp_path / "stars.csv", _rows(120, labels=("2", "10", "1")))
    assert load_text_table(path).classes == ["1", "2", "10"]


def test_headerless_files_are_detected(tmp_path, capsys):
    rows = [(label, text) for text, label in _rows(60, labels=("0", "1"))]
    data = load_text_table(_write_csv(tmp_path / "plain.csv", rows, header=None))
    assert capsys.readouterr().out.startswith("plain.csv: text='col1', label='col0'")
    assert len(data.train) + len(data.val) + len(data.test) == 60  # the first row is data, not a header
    rows = _rows(60)
    data = load_text_table(_write_csv(tmp_path / "plain.tsv", rows, header=None, sep="\t"))
    assert data.classes == ["negative", "positive"]
    assert sum(map(len, (data.train, data.val, data.test))) == 60


def test_given_columns_labels_order_and_header_with_unknown_names(tmp_path):
    path = _write_csv(tmp_path / "t.csv", _rows(50), header=("body", "mood"))
    with pytest.raises(DataError, match=r"t\.csv has no label column.*columns found: body, mood.*label_col="):
        load_text_table(path)
    data = load_text_table(path, text_col="body", label_col="mood", labels=["positive", "negative"])
    assert data.classes == ["positive", "negative"]
    assert data.label2id["positive"] == 0
    with pytest.raises(DataError, match=r"no column 'txt'.*body, mood.*text_col="):
        load_text_table(path, text_col="txt", label_col="mood")


def test_jsonl_and_bom(tmp_path):
    rows = _rows(40)
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"review": t, "sentiment": y, "id": i}) for i, (t, y) in enumerate(rows))
    )
    data = load_text_table(jsonl)
    assert data.classes == ["negative", "positive"] and "id" in data.train.columns
    bom = tmp_path / "excel.csv"
    bom.write_bytes(("text,label\n" + "\n".join(f"{t},{y}" for t, y in rows)).encode("utf-8-sig"))
    assert load_text_table(bom).classes == ["negative", "positive"]


def test_max_rows_caps_each_file_stratified(tmp_path):
    train = _write_csv(tmp_path / "train.csv", _rows(300))
    dev = _write_csv(tmp_path / "dev.csv", _rows(100))
    data = load_text_table(train, eval_file=dev, max_rows=40)
    assert len(data.train) + len(data.val) == 40
    assert len(data.test) == 40
    assert data.summary().loc["test", "negative"] == 20


def test_empty_texts_dropped_when_few_refused_when_many(tmp_path, capsys):
    rows = _rows(100)
    rows[3] = ("", rows[3][1])
    data = load_text_table(_write_csv(tmp_path / "few.csv", rows))
    assert "1 of 100 rows have an empty text (data rows 4;" in capsys.readouterr().out
    assert sum(map(len, (data.train, data.val, data.test))) == 99
    rows = [("" if i % 5 == 0 else t, y) for i, (t, y) in enumerate(_rows(100))]
    with pytest.raises(DataError, match=r"many\.csv: 20 of 100 rows have an empty text \(data rows 1, 6, 11"):
        load_text_table(_write_csv(tmp_path / "many.csv", rows))


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("missing", r"not found: .*nope\.csv"),
        ("single_class", r"one\.csv has a single class \('positive'\)"),
        ("outside_labels", r"label 'neutral' \(data row 3\) is not one of labels="),
        ("eval_unknown", r"dev\.csv: label 'neutral' \(data row 1\) does not occur in train\.csv"),
        ("latin1", r"latin\.csv is not UTF-8 .*Re-save it as UTF-8"),
        ("too_few", r"tiny\.csv: too few rows"),
        ("ragged", r"ragged\.csv cannot be read as a comma-separated table"),
        ("bad_split", r"split must be three positive fractions"),
    ],
)
def test_bad_inputs_raise_one_line_errors(tmp_path, case, pattern):
    train = _write_csv(tmp_path / "train.csv", _rows(40))
    kwargs = {}
    if case == "missing":
        path = tmp_path / "nope.csv"
    elif case == "single_class":
        path = _write_csv(tmp_path / "one.csv", _rows(20, labels=("positive",)))
    elif case == "outside_labels":
        path = _write_csv(tmp_path / "x.csv", _rows(30, labels=("negative", "positive", "neutral")))
        kwargs = {"labels": ["negative", "positive"]}
    elif case == "eval_unknown":
        path = train
        kwargs = {"eval_file": _write_csv(tmp_path / "dev.csv", _rows(9, labels=("neutral", "positive")))}
    elif case == "latin1":
        path = tmp_path / "latin.csv"
        path.write_bytes("text,label\ncafé crème très bon,positive\nà éviter,negative\n".encode("latin-1"))
    elif case == "too_few":
        path = _write_csv(tmp_path / "tiny.csv", _rows(4))
    elif case == "ragged":
        path = tmp_path / "ragged.csv"
        path.write_text("text,label\nfine,positive\nbad, very bad,negative,extra\n")
    else:
        path, kwargs = train, {"split": (0.8, 0.3, 0.1)}
    error_type = ConfigError if case == "bad_split" else DataError
    with pytest.raises(error_type, match=pattern) as info:
        load_text_table(path, **kwargs)
    assert "\n" not in str(info.value)


def test_gb18030_chinese_file_is_decoded_with_a_note(tmp_path, capsys):
    rows = [("这个酒店很好，服务周到" if i % 2 else "房间太小，不推荐", str(i % 2)) for i in range(40)]
    path = tmp_path / "zh.csv"
    path.write_bytes(
        ("label,text\n" + "\n".join(f"{y},{t}{i}" for i, (t, y) in enumerate(rows))).encode("gb18030")
    )
    data = load_text_table(path)
    assert "decoded as gb18030" in capsys.readouterr().out
    assert data.train["text"].str.contains("酒店|房间").all()


def test_make_imbalanced_and_class_weights(tmp_path):
    data = load_text_table(_write_csv(tmp_path / "r.csv", _rows(200)))
    imbalanced = make_imbalanced(data.train, "positive", 0.25, seed=0, classes=data.classes)
    counts = imbalanced["label"].value_counts()
    assert counts[0] == 80 and counts[1] == 20
    assert make_imbalanced(data.train, 1, 0.25, seed=0).equals(imbalanced)
    weights = class_weights(imbalanced)
    assert weights.tolist() == pytest.approx(
        [100 / 160, 100 / 40]
    )  # n / (k * count): 80 and 20 rows, 2 classes
    assert (
        class_weights(imbalanced["label"].tolist(), num_classes=2).tolist() == weights.tolist()
    )  # a plain list works too
    with pytest.raises(ConfigError):
        make_imbalanced(data.train, "neutral", 0.5, classes=data.classes)


def test_class_weights_scaling_and_bad_labels():
    from sklearn.utils.class_weight import compute_class_weight

    labels = [0] * 7 + [1] * 2 + [2] * 11
    weights = class_weights(labels, num_classes=3)
    assert weights.tolist() == pytest.approx(
        compute_class_weight("balanced", classes=np.arange(3), y=labels).tolist()
    )
    counts = np.bincount(labels)
    assert (weights.numpy() * counts).tolist() == pytest.approx(
        [20 / 3] * 3
    )  # every class carries n / k in total
    assert class_weights([1, 0, 1, 0]).tolist() == [1.0, 1.0]  # balanced data: no reweighting
    with pytest.raises(DataError, match="Class id 2 has no rows"):
        class_weights([0, 1, 1], num_classes=3)
    with pytest.raises(ConfigError, match="num_classes"):
        class_weights([0, 3], num_classes=2)
    with pytest.raises(DataError, match="integer label ids"):
        class_weights(["pos", "neg"])


def _tiny_tokenizer():
    from ftkit.infra.compat import ensure_torchvision

    ensure_torchvision()
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "review": 2, "was": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]")


def test_to_hf_dynamic_and_max_length_padding(tmp_path):
    rows = [(("very " * (i % 4)) + t, y) for i, (t, y) in enumerate(_rows(40))]
    data = load_text_table(_write_csv(tmp_path / "r.csv", rows))
    tokenizer = _tiny_tokenizer()
    dynamic = data.to_hf(tokenizer)
    assert set(dynamic) == {"train", "validation", "test"}
    assert set(dynamic["train"].column_names) == {"input_ids", "attention_mask", "labels"}
    assert dynamic["train"]["labels"] == list(data.train["label"])
    assert len({len(ids) for ids in dynamic["train"]["input_ids"]}) > 1  # not padded yet
    padded = data.to_hf(tokenizer, max_length=12, padding="max_length")
    assert {len(ids) for ids in padded["test"]["input_ids"]} == {12}
    with pytest.raises(ConfigError):
        data.to_hf(tokenizer, padding="sideways")


def test_options_are_checked_before_reading(tmp_path):
    path = _write_csv(tmp_path / "r.csv", _rows(40))
    for kwargs, pattern in [
        ({"split": (0.8, float("nan"), 0.2)}, "split must be three positive fractions"),
        ({"split": (0.9, 0.1, 0.0)}, "split must be three positive fractions"),
        ({"max_rows": 1}, "max_rows must be a whole number >= 2"),
        ({"max_rows": True}, "max_rows"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"header": "yes"}, "header must be True or False"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            load_text_table(path, **kwargs)
    data = load_text_table(path)
    with pytest.raises(ConfigError, match="keep_fraction"):
        make_imbalanced(data.train, 1, 1.5)
    with pytest.raises(ConfigError, match="keep_fraction"):
        make_imbalanced(data.train, 1, 0)
