"""ftkit.deploy without a server: ONNX export + parity, the model directory, INT8, `ftkit serve` refusals.

Tiny random smoke models (seconds); the real models are measured in benchmarks/bench_deploy.py.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ftkit
from ftkit.deploy import (
    OnnxClassifier,
    copy_model_dir,
    cpu_flags,
    describe_onnx,
    export_image_model,
    export_text_model,
    image_parity,
    quantize_dynamic_dir,
    quantize_static_dir,
    read_model_dir,
    text_parity,
    torch_text_probs,
)
from ftkit.deploy.server import ServeConfig, parse_split
from ftkit.errors import ConfigError, ModelError, SaveError
from ftkit.lessons.l07_deploy import SAMPLES

REPO = Path(__file__).resolve().parent.parent
INT8_MAX_ACC_DROP = 0.05  # the stated drop: INT8 may lose at most 5 points of accuracy on these test sets
TEXTS = ftkit.load_text_table(SAMPLES / "sentiment" / "sentiment_en.csv", split=(0.7, 0.15, 0.15), seed=0)


@pytest.fixture(scope="module")
def text_model():
    loaded = ftkit.load_text_classifier("tiny-bert", num_labels=2, id2label=TEXTS.id2label, seed=0)
    return loaded.model, loaded.tokenizer


@pytest.fixture(scope="module")
def helmet():
    data = ftkit.load_image_folder(SAMPLES / "helmet", image_size=32, seed=0)
    model = ftkit.load_vision("tiny-resnet", num_classes=len(data.classes), seed=0).model
    return model, data


@pytest.fixture(scope="module")
def exported(tmp_path_factory, text_model, helmet):
    root = tmp_path_factory.mktemp("deploy")
    model, tok = text_model
    text_dir = export_text_model(
        model, tok, root / "text_v1", name="sentiment", version="v1", metrics={"test_accuracy": 0.5}
    )
    image_model, data = helmet
    image_dir = export_image_model(
        image_model, root / "helmet_v1", name="helmet", version="h1", labels=data.classes, image_size=32
    )
    return root, text_dir, image_dir


def test_text_export_has_dynamic_axes_and_agrees_with_pytorch_on_every_text(exported, text_model):
    _, text_dir, _ = exported
    graph = describe_onnx(text_dir.path)
    assert [(v["name"], v["shape"]) for v in graph["inputs"]] == [
        ("input_ids", ["batch", "sequence"]),
        ("attention_mask", ["batch", "sequence"]),
    ]
    assert graph["outputs"][0]["shape"] == ["batch", 2]
    texts = list(TEXTS.train["text"]) + ["x " * 400]  # every sample review, and one cut at max_length
    parity = text_parity(*text_model, text_dir.path, texts)
    assert parity["examples"] == len(texts) and parity["all_labels_agree"] and parity["within_tolerance"], (
        parity
    )
    clf = OnnxClassifier(text_dir.path)
    for n in (1, 7):  # other batch sizes than the export example's 2
        assert clf.predict_texts(texts[:n]).shape == (n, 2)


def test_image_export_agrees_with_pytorch_and_with_the_kits_own_predict(exported, helmet):
    _, _, image_dir = exported
    model, data = helmet
    parity = image_parity(model, image_dir.path, data.test)
    assert parity["all_labels_agree"] and parity["within_tolerance"], parity
    probs, _, _ = ftkit.predict(model, data.test)  # the training pipeline's own preprocessing
    assert np.abs(OnnxClassifier(image_dir.path).predict_images(data.test.paths) - probs).max() < 1e-4


def test_manifest_records_what_the_server_shows(exported):
    _, text_dir, image_dir = exported
    m = text_dir.manifest
    assert (m["name"], m["version"], m["task"], m["labels"]) == (
        "sentiment",
        "v1",
        "text",
        ["negative", "positive"],
    )
    assert m["metrics"] == {"test_accuracy": 0.5} and m["exported_at"] and m["opset"] >= 17
    assert {"model.onnx", "tokenizer.json"} <= set(m["files"])
    assert image_dir.manifest["preprocess"]["image_size"] == 32


def test_export_refuses_to_overwrite_and_a_failed_export_leaves_nothing(exported, text_model, tmp_path):
    _, text_dir, _ = exported
    before = (text_dir.path / "manifest.json").read_text()
    with pytest.raises(SaveError):
        export_text_model(*text_model, text_dir.path, name="sentiment", version="v1")
    assert (text_dir.path / "manifest.json").read_text() == before
    with pytest.raises(ConfigError):
        export_text_model(*text_model, tmp_path / "bad", name="sentiment", version="v 1 /x")
    with pytest.raises(ConfigError):
        export_text_model(*text_model, tmp_path / "bad", name="sentiment", max_length=2)
    assert not list(tmp_path.iterdir())  # no half-written folder, no temporary left behind


@pytest.mark.parametrize("damage", ["missing", "no_manifest", "truncated", "changed", "bad_json"])
def test_half_written_or_changed_directories_are_refused(exported, tmp_path, damage):
    _, text_dir, _ = exported
    copy = copy_model_dir(text_dir.path, tmp_path / "copy").path
    if damage == "missing":
        copy = tmp_path / "nowhere"
    elif damage == "no_manifest":
        (copy / "manifest.json").unlink()
    elif damage == "truncated":
        data = (copy / "model.onnx").read_bytes()
        (copy / "model.onnx").write_bytes(data[: len(data) // 2])
    elif damage == "changed":
        data = bytearray((copy / "model.onnx").read_bytes())
        data[-1] ^= 1
        (copy / "model.onnx").write_bytes(bytes(data))
    else:
        (copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError) as err:
        read_model_dir(copy)
    assert "\n" not in str(err.value) and "xport" in str(err.value)


@pytest.mark.parametrize("damage", ["missing", "no_model"])
def test_ftkit_serve_refuses_to_start_with_one_line(exported, tmp_path, damage):
    _, text_dir, _ = exported
    target = tmp_path / "nowhere"
    if damage == "no_model":
        target = copy_model_dir(text_dir.path, tmp_path / "copy").path
        (target / "model.onnx").unlink()
    run = subprocess.run(
        [sys.executable, "-m", "ftkit", "serve", str(target), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("ftkit: ") and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert ("not found" if damage == "missing" else "model.onnx is missing") in run.stderr


def test_dynamic_int8_text_model_is_smaller_and_keeps_its_accuracy(exported, text_model, tmp_path):
    _, text_dir, _ = exported
    q = quantize_dynamic_dir(text_dir.path, tmp_path / "text_int8", version="v1-int8")
    assert q.manifest["quantization"].startswith("dynamic-int8") and q.manifest["quantized_from"] == "v1"
    # the tiny model is mostly its fp32 embedding table, so the file shrinks little; the MatMuls are int8
    assert q.onnx_path.stat().st_size < text_dir.onnx_path.stat().st_size
    import onnx

    ops = {node.op_type for node in onnx.load(str(q.onnx_path)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops
    texts, labels = list(TEXTS.train["text"]), TEXTS.train["label"].to_numpy()
    fp32 = OnnxClassifier(text_dir.path).predict_texts(texts).argmax(1)
    int8 = OnnxClassifier(q.path).predict_texts(texts).argmax(1)
    assert (fp32 == labels).mean() - (int8 == labels).mean() <= INT8_MAX_ACC_DROP
    # a random tiny model sits near 50/50, so agreement is the sharper check
    assert (fp32 == int8).mean() >= 0.9
    reference = torch_text_probs(*text_model, texts[:4])
    assert np.abs(OnnxClassifier(q.path).predict_texts(texts[:4]) - reference).max() < 0.1


def test_static_int8_cnn_calibrates_on_validation_images_and_keeps_its_accuracy(exported, helmet, tmp_path):
    _, _, image_dir = exported
    _, data = helmet
    q = quantize_static_dir(image_dir.path, tmp_path / "helmet_int8", data.val)
    assert (
        "static-int8" in q.manifest["quantization"]
        and f"{len(data.val)} images" in q.manifest["quantization"]
    )
    targets = np.asarray(data.test.targets)
    fp32 = OnnxClassifier(image_dir.path).predict_images(data.test.paths).argmax(1)
    int8 = OnnxClassifier(q.path).predict_images(data.test.paths).argmax(1)
    assert (fp32 == targets).mean() - (int8 == targets).mean() <= INT8_MAX_ACC_DROP
    with pytest.raises(ConfigError):
        quantize_static_dir(exported[1].path, tmp_path / "no", data.val)  # a text model


def test_serve_settings_are_checked():
    assert parse_split("v1=0.9,v2=0.1") == {"v1": 0.9, "v2": 0.1}
    for bad in ("v1", "v1=a"):
        with pytest.raises(ConfigError):
            parse_split(bad)
    with pytest.raises(ConfigError):
        ServeConfig(max_texts=0)


def test_ab_shares_must_name_loaded_versions_and_add_up(exported, tmp_path):
    from ftkit.deploy.server import Router

    _, text_dir, _ = exported
    v2 = copy_model_dir(text_dir.path, tmp_path / "v2", version="v2")
    router = Router([text_dir.path, v2.path], {"v2": 0.25}, ServeConfig())
    assert router.shares["text"] == {"v2": 0.25, "v1": 0.75}
    for split in ({"v3": 1.0}, {"v1": 0.8, "v2": 0.8}):
        with pytest.raises(ConfigError):
            Router([text_dir.path, v2.path], split, ServeConfig())
    with pytest.raises(ConfigError):
        Router([text_dir.path, text_dir.path], None, ServeConfig())  # two directories, one version


def test_cpu_flags_give_a_verdict():
    flags = cpu_flags()
    assert {"AVX2", "AVX512-VNNI", "AVX-VNNI", "vnni", "verdict"} <= set(flags)
    assert isinstance(flags["vnni"], bool)
    assert "VNNI" in flags["verdict"] or "measure" in flags["verdict"]
