"""Every bad input a learner is likely to bring gets a one-line ftkit error (issue 8).

The CASES table is the source of docs/ERRORS.md: `python tests/test_bad_inputs.py` prints the
markdown table, and a test checks the docs list every case. Each case builds the bad input
in a temporary folder, calls the kit the way a lesson does, and checks:
  - the exception is the right ftkit class (a subclass of FtkitError),
  - the message is one line,
  - it names the offending file or value (`must_mention`),
  - it says how to fix it (a hint word such as "Pass", "Use", "Check", "Re-save").
Images in unusual but valid formats must simply load (IMAGE_MODES below).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ftkit
from ftkit.errors import ConfigError, DataError, FtkitError

FIX_WORDS = re.compile(
    r"\b(pass|use|check|add|remove|re-?save|re-?export|delete|move|set|give|fix|put|choose|lower"
    r"|did you mean|make|rename|keep|at least|point|pick|example|try)\b",
    re.I,
)


# ---- builders ---------------------------------------------------------------------------
def _img(path: Path, mode="RGB", size=(40, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = {"RGB": (200, 30, 30), "RGBA": (200, 30, 30, 128), "L": 128, "CMYK": (0, 50, 100, 0)}.get(mode, 1)
    Image.new(mode, size, color).save(path)
    return path


def _folder(root: Path, classes=("helmet", "no_helmet"), splits=("train", "val"), n=3):
    for split in splits:
        for cls in classes:
            for i in range(n):
                _img(root / split / cls / f"{i}.png")
    return root


def _csv(path: Path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _json(path: Path, data):
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def _tiny_train(tmp, **config):
    import torch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    return ftkit.fit(model, (x, y), None, progress=False, **config)


# ---- the cases: (id, what the learner did, exception class, must_mention, action) ----------
def case_missing_folder(tmp):
    ftkit.load_image_folder(tmp / "no_such_folder")


def case_empty_folder(tmp):
    (tmp / "empty").mkdir()
    ftkit.load_image_folder(tmp / "empty")


def case_one_class(tmp):
    ftkit.load_image_folder(_folder(tmp / "one", classes=("helmet",)))


def case_class_mismatch(tmp):
    root = _folder(tmp / "mm")
    (root / "val" / "no_helmet").rename(root / "val" / "nohelmet")
    ftkit.load_image_folder(root)


def case_zero_byte_image(tmp):
    root = _folder(tmp / "zero")
    (root / "train" / "helmet" / "empty.jpg").write_bytes(b"")
    ftkit.load_image_folder(root)


def case_truncated_jpeg(tmp):
    root = _folder(tmp / "trunc")
    src = root / "train" / "helmet" / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(src)
    data = src.read_bytes()
    (root / "train" / "helmet" / "cut.jpg").write_bytes(data[: len(data) // 2])
    src.unlink()
    ftkit.load_image_folder(root)


def case_unreadable_image(tmp):
    root = _folder(tmp / "garbage")
    (root / "train" / "no_helmet" / "photo.jpg").write_bytes(b"this is not a picture at all" * 10)
    ftkit.load_image_folder(root)


def case_non_image_file(tmp):
    root = _folder(tmp / "notes")
    (root / "train" / "helmet" / "notes.txt").write_text("remember to label more")
    ftkit.load_image_folder(root)


def case_csv_missing_text_column(tmp):
    ftkit.load_text_table(_csv(tmp / "t.csv", "label,stars\npositive,5\nnegative,1\n" * 5), text_col="review")


def case_csv_missing_label_column(tmp):
    ftkit.load_text_table(_csv(tmp / "t.csv", "text,stars\ngood,5\nbad,1\n" * 5))


def case_csv_empty_texts(tmp):
    ftkit.load_text_table(
        _csv(tmp / "t.csv", "text,label\n" + ",positive\n,negative\n" * 6 + "fine,positive\nbad,negative\n")
    )


def case_csv_unknown_label(tmp):
    rows = "text,label\n" + "great,positive\nawful,negative\n" * 6 + "meh,neutral\n"
    ftkit.load_text_table(_csv(tmp / "t.csv", rows), labels=["negative", "positive"])


def case_csv_not_utf8(tmp):
    # Latin-1 accents are not UTF-8, and the bytes are not GB18030 Chinese either.
    ftkit.load_text_table(
        _csv(
            tmp / "latin.csv",
            "text,label\n" + "café crème très bon,positive\nà éviter,negative\n" * 6,
            "latin-1",
        )
    )


def case_json_not_a_list(tmp):
    ftkit.load_instructions(_json(tmp / "d.json", {"instruction": "hi", "output": "hello"}))


def case_json_missing_output(tmp):
    ftkit.load_instructions(
        _json(tmp / "d.json", [{"instruction": "a", "output": "b"}, {"instruction": "say hi"}])
    )


def case_json_empty_response(tmp):
    ftkit.load_instructions(
        _json(
            tmp / "d.json", [{"instruction": "a", "output": "b"}, {"instruction": "say hi", "output": "  "}]
        )
    )


def case_unknown_preset(tmp):
    ftkit.load_vision("resnet-18")


def case_lr_zero(tmp):
    ftkit.TrainConfig(lr=0)


def case_lr_negative(tmp):
    ftkit.TrainConfig(lr=-1e-3)


def case_lr_nan(tmp):
    ftkit.TrainConfig(lr=math.nan)


def case_epochs_zero(tmp):
    ftkit.TrainConfig(epochs=0)


def case_steps_zero(tmp):
    ftkit.train_sft(None, None, [{"messages": []}], max_steps=0)


def case_freeze_depth_out_of_range(tmp):
    model = ftkit.load_vision("tiny-resnet", num_classes=2).model
    ftkit.freeze(model, depth=9)


def case_batch_larger_than_data(tmp):
    _tiny_train(tmp, batch_size=64, epochs=1)


def case_label_noise_share(tmp):
    ftkit.flip_labels([0, 1, 0, 1], share=40)  # meant 40 %


def case_augment_unknown_method(tmp):
    import pandas as pd

    ftkit.augment_texts(pd.DataFrame({"text": ["a good film"], "label": [1]}), method="back-translate")


def case_lr_range_reversed(tmp):
    ftkit.lr_range_test(None, None, start_lr=10, end_lr=1e-6)


CASES = [
    # id, what the learner did, error class, text the message must contain
    ("image-folder-missing", "DATA_DIR points to a folder that does not exist", DataError, "no_such_folder"),
    ("image-folder-empty", "the data folder is empty", DataError, "empty"),
    ("image-one-class", "only one class folder", DataError, "helmet"),
    ("image-class-mismatch", "train/ and val/ have different class folder names", DataError, "nohelmet"),
    ("image-zero-byte", "a zero-byte image file", DataError, "empty.jpg"),
    ("image-truncated", "a truncated JPEG (half a download)", DataError, "cut.jpg"),
    ("image-unreadable", "a file named .jpg that is not an image", DataError, "photo.jpg"),
    ("image-non-image-file", "a non-image file inside a class folder", DataError, "notes.txt"),
    ("text-missing-text-column", "TEXT_COL names a column the table does not have", DataError, "review"),
    ("text-missing-label-column", "no label column", DataError, "label"),
    ("text-empty-texts", "many empty texts", DataError, "t.csv"),
    ("text-unknown-label", "a label outside the known set", DataError, "neutral"),
    ("text-not-utf8", "a file saved in a non-UTF-8 encoding", DataError, "latin.csv"),
    ("instructions-not-a-list", "instruction JSON whose top level is not a list", DataError, "d.json"),
    ("instructions-missing-output", "a record without `output`", DataError, "record 1"),
    ("instructions-empty-response", "a record with an empty response", DataError, "record 1"),
    ("preset-unknown", "a model preset name with a typo", ConfigError, "resnet18"),
    ("lr-zero", "learning rate 0", ConfigError, "0"),
    ("lr-negative", "a negative learning rate", ConfigError, "-0.001"),
    ("lr-nan", "learning rate NaN", ConfigError, "nan"),
    ("epochs-zero", "EPOCHS = 0", ConfigError, "0"),
    ("steps-zero", "STEPS = 0 for LoRA training", ConfigError, "0"),
    ("freeze-depth-out-of-range", "a freeze depth larger than the model has blocks", ConfigError, "9"),
    ("batch-larger-than-data", "a batch size larger than the training set", ConfigError, "64"),
    ("label-noise-share", "a label-noise share given in percent (40 for 0.4)", ConfigError, "share"),
    ("lr-range-reversed", "an LR range test from 10 down to 1e-6", ConfigError, "start_lr"),
    (
        "augment-unknown-method",
        "text augmentation by back-translation (needs a model)",
        ConfigError,
        "back-translate",
    ),
]
_FUNCS = {
    "image-folder-missing": case_missing_folder,
    "image-folder-empty": case_empty_folder,
    "image-one-class": case_one_class,
    "image-class-mismatch": case_class_mismatch,
    "image-zero-byte": case_zero_byte_image,
    "image-truncated": case_truncated_jpeg,
    "image-unreadable": case_unreadable_image,
    "image-non-image-file": case_non_image_file,
    "text-missing-text-column": case_csv_missing_text_column,
    "text-missing-label-column": case_csv_missing_label_column,
    "text-empty-texts": case_csv_empty_texts,
    "text-unknown-label": case_csv_unknown_label,
    "text-not-utf8": case_csv_not_utf8,
    "instructions-not-a-list": case_json_not_a_list,
    "instructions-missing-output": case_json_missing_output,
    "instructions-empty-response": case_json_empty_response,
    "preset-unknown": case_unknown_preset,
    "lr-zero": case_lr_zero,
    "lr-negative": case_lr_negative,
    "lr-nan": case_lr_nan,
    "epochs-zero": case_epochs_zero,
    "steps-zero": case_steps_zero,
    "freeze-depth-out-of-range": case_freeze_depth_out_of_range,
    "batch-larger-than-data": case_batch_larger_than_data,
    "label-noise-share": case_label_noise_share,
    "lr-range-reversed": case_lr_range_reversed,
    "augment-unknown-method": case_augment_unknown_method,
}


def _message(case_id, tmp) -> tuple[type, str]:
    with pytest.raises(FtkitError) as info:
        _FUNCS[case_id](tmp)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("case_id, what, error, mention", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line(case_id, what, error, mention, tmp_path):
    kind, message = _message(case_id, tmp_path)
    assert issubclass(kind, error), f"{case_id}: {kind.__name__}: {message}"
    assert "\n" not in message, f"{case_id}: message is not one line: {message!r}"
    assert mention.lower() in message.lower(), f"{case_id}: message does not name {mention!r}: {message}"
    assert FIX_WORDS.search(message), f"{case_id}: message does not say how to fix it: {message}"


# ---- unusual but valid images: these must just work ------------------------------------
IMAGE_MODES = {
    "grayscale (L)": lambda p: Image.new("L", (40, 30), 90).save(p),
    "RGBA with transparency": lambda p: Image.new("RGBA", (40, 30), (0, 200, 0, 60)).save(p),
    "palette (P)": lambda p: Image.new("RGB", (40, 30), (10, 20, 200)).convert("P").save(p),
    "CMYK JPEG": lambda p: Image.new("CMYK", (40, 30), (0, 80, 90, 0)).save(p.with_suffix(".jpg")),
    "16-bit grayscale PNG": lambda p: Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16)).save(p),
    "huge (6000x4000) JPEG": lambda p: Image.new("RGB", (6000, 4000), (120, 120, 0)).save(
        p.with_suffix(".jpg"), quality=30
    ),
}


@pytest.mark.parametrize("label", list(IMAGE_MODES))
def test_unusual_images_just_work(label, tmp_path):
    root = _folder(tmp_path / "ok", n=2)
    IMAGE_MODES[label](root / "train" / "helmet" / "odd.png")
    data = ftkit.load_image_folder(root, image_size=32)
    odd = [i for i, p in enumerate(data.train.paths) if Path(p).stem == "odd"]
    assert odd, "the odd image was not loaded"
    x, y = data.train[odd[0]]
    assert tuple(x.shape) == (3, 32, 32) and x.dtype.is_floating_point and bool(x.isfinite().all())


def test_prompt_longer_than_context_is_stated(capsys):
    from ftkit.data.sft_encoding import build_sft_dataset
    from ftkit.infra.presets import load_causal_lm

    tok = load_causal_lm("tiny-qwen2").tokenizer
    records = [
        [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "ok"}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    ]
    dataset = build_sft_dataset(tok, records, max_length=64)
    said = capsys.readouterr().out.lower()
    assert len(dataset) == 1 and ("dropped" in said or "truncat" in said), said


# ---- the docs table --------------------------------------------------------------------
def markdown_table(tmp: Path) -> str:
    rows = ["| case | what the learner did | error | message |", "|---|---|---|---|"]
    for case_id, what, _error, _mention in CASES:
        case_tmp = tmp / case_id
        case_tmp.mkdir(parents=True)
        try:
            _FUNCS[case_id](case_tmp)
            kind, message = "none", "(no error!)"
        except FtkitError as err:
            kind, message = (
                type(err).__name__,
                str(err).replace(str(case_tmp) + "/", "").replace(str(case_tmp), "."),
            )
        rows.append(f"| `{case_id}` | {what} | `{kind}` | {message.replace('|', '/')} |")
    return "\n".join(rows)


def test_docs_list_every_case():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "ERRORS.md").read_text()
    missing = [case_id for case_id, *_ in CASES if f"`{case_id}`" not in doc]
    assert missing == [], f"docs/ERRORS.md lacks {missing}: run `python tests/test_bad_inputs.py`"


if __name__ == "__main__":  # regenerate the table for docs/ERRORS.md
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(markdown_table(Path(tmp)))
