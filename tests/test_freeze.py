"""Freeze depth, eval-mode frozen BatchNorm, trainable summary and learning-rate groups."""

import math

import pytest
import torch
from torch import nn

from ftkit.errors import ConfigError
from ftkit.freeze import (
    blocks,
    check_depth,
    freeze,
    freeze_state,
    max_depth,
    param_groups,
    runs_in_eval,
    set_train_mode,
    trainable_summary,
    unfreeze,
)
from ftkit.infra.compat import ensure_torchvision

ensure_torchvision()
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402

torch.set_num_threads(1)


def n_params(*modules):
    seen, total = set(), 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.fixture
def resnet():
    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3)


# ---- ResNet ---------------------------------------------------------------------------------------
def test_resnet_blocks_and_counts_per_depth(resnet):
    assert [name for name, _ in blocks(resnet)] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert max_depth(resnet) == 5
    bottom_to_top = [
        (resnet.conv1, resnet.bn1),
        (resnet.layer1,),
        (resnet.layer2,),
        (resnet.layer3,),
        (resnet.layer4,),
    ]
    for depth in range(6):
        freeze(resnet, depth)
        trained = [m for group in bottom_to_top[5 - depth :] for m in group]
        expected = n_params(resnet.fc, *trained)
        assert n_trainable(resnet) == expected, depth
    assert n_trainable(resnet) == n_params(resnet)  # depth 5 = everything


@pytest.mark.parametrize("bad", [-1, 6, 1.5, True, "2", None])
def test_freeze_depth_out_of_range_names_valid_range(resnet, bad):
    with pytest.raises(ConfigError, match=r"from 0 .* to 5"):
        freeze(resnet, bad)


def test_check_depth_is_the_one_rule(resnet):
    assert [check_depth(resnet, d) for d in (0, 5)] == [0, 5]
    for bad in (-1, 6, 1.5, True, "2", None):
        with pytest.raises(ConfigError, match=r"from 0 \(head only\) to 5 \(all blocks of ResNet\)"):
            check_depth(resnet, bad)


def test_freeze_state_is_kept_beside_the_model_not_on_it(resnet):
    attributes = {name: set(vars(m)) for name, m in resnet.named_modules()}
    assert freeze_state(resnet) is None
    freeze(resnet, 1)
    assert {name: set(vars(m)) for name, m in resnet.named_modules()} == attributes  # nothing added
    state = freeze_state(resnet)
    assert (state.depth, state.bn_stats, state.plan.family, state.plan.head) == (
        1,
        "pretrained",
        "resnet",
        "fc",
    )
    assert {"conv1", "bn1", "layer3", "layer3.0.conv1", "layer4.0.bn1"} <= set(state.eval_modules)
    assert not {"layer4", "layer4.0.conv1", "fc"} & set(state.eval_modules)
    assert (
        runs_in_eval(resnet.layer3) and runs_in_eval(resnet.layer4[0].bn1) and not runs_in_eval(resnet.layer4)
    )
    freeze(resnet, 5, bn_stats="update")
    assert freeze_state(resnet).eval_modules == [] and not any(runs_in_eval(m) for m in resnet.modules())
    freeze(resnet, 0)
    unfreeze(resnet)
    assert freeze_state(resnet).depth is None and not any(runs_in_eval(m) for m in resnet.modules())
    resnet.train()
    assert all(m.training for m in resnet.modules())  # no hook is left to pull a module back to eval


def test_frozen_batchnorm_stays_in_eval_mode_even_after_train(resnet):
    freeze(resnet, 1, bn_stats="update")
    resnet.train()  # what a hand-written loop does: would normally switch every BN to train mode
    frozen_bn, trained_bn = resnet.layer3[0].bn1, resnet.layer4[0].bn1
    before_frozen = frozen_bn.running_mean.clone()
    before_trained = trained_bn.running_mean.clone()
    resnet(torch.randn(4, 3, 32, 32))
    assert torch.equal(frozen_bn.running_mean, before_frozen)
    assert not torch.equal(trained_bn.running_mean, before_trained)
    assert not frozen_bn.training and trained_bn.training
    set_train_mode(resnet)
    assert (
        not resnet.bn1.training
        and not resnet.layer3.training
        and resnet.layer4.training
        and resnet.fc.training
    )


def test_refreezing_changes_which_bn_is_frozen(resnet):
    freeze(resnet, 0)
    freeze(resnet, 5, bn_stats="update")
    resnet.train()
    before = resnet.bn1.running_mean.clone()
    resnet(torch.randn(4, 3, 32, 32))
    assert not torch.equal(resnet.bn1.running_mean, before)  # all trainable: statistics update again
    unfreeze(resnet)
    assert n_trainable(resnet) == n_params(resnet)


def test_pretrained_bn_stats_keep_statistics_but_train_scale_and_shift(resnet):
    summary = freeze(resnet, 1)  # bn_stats="pretrained" is the default
    trained_bn = resnet.layer4[0].bn1
    before = trained_bn.running_mean.clone()
    set_train_mode(resnet)
    assert resnet.layer4.training and not trained_bn.training
    resnet(torch.randn(4, 3, 32, 32)).sum().backward()
    assert torch.equal(trained_bn.running_mean, before)  # statistics: still the pretrained ones
    assert trained_bn.weight.requires_grad and trained_bn.weight.grad is not None  # scale: learns
    assert any("pretrained statistics" in note for note in summary.notes)
    unfreeze(resnet)
    from ftkit.freeze import mark_frozen

    mark_frozen(resnet)  # what fit does: after unfreeze, hand-set requires_grad alone decides
    resnet.train()
    assert trained_bn.training


def test_bad_bn_stats_is_refused(resnet):
    with pytest.raises(ConfigError, match="bn_stats"):
        freeze(resnet, 1, bn_stats="frozen")


def test_trainable_summary_table_line_and_html(resnet):
    summary = freeze(resnet, 1)
    table = summary.table
    assert list(table["block"]) == ["stem", "layer1", "layer2", "layer3", "layer4", "head (fc)"]
    row = table[table["block"] == "layer4"].iloc[0]
    assert row["trainable"] == row["total"] == n_params(resnet.layer4)
    assert table[table["block"] == "layer3"].iloc[0]["trainable"] == 0
    expected = n_params(resnet.layer4, resnet.fc)
    assert summary.trainable == expected and summary.total == n_params(resnet)
    assert math.isclose(summary.share, 100 * expected / n_params(resnet))
    assert math.isclose(summary.optimizer_mb, expected * 8 / 1e6)
    assert "freeze depth 1 of 5" in str(summary) and f"{expected:,}" in str(summary)
    assert any("eval mode" in note for note in summary.notes)
    assert "<table" in summary._repr_html_()
    assert trainable_summary(resnet).trainable == expected


# ---- EfficientNet-Lite ----------------------------------------------------------------------------
def test_efficientnet_lite_stages():
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", num_classes=2)
    names = [name for name, _ in blocks(model)]
    assert names == ["stem"] + [f"stage{i}" for i in range(1, 8)] + ["head_conv"]
    sizes = [1, 2, 2, 3, 3, 4, 1]  # MBConv blocks per stage in EfficientNet-Lite0 (from the paper's table)
    starts = [sum(sizes[:i]) for i in range(7)]
    stages = [[model._blocks[j] for j in range(s, s + n)] for s, n in zip(starts, sizes, strict=True)]
    groups = [[model._conv_stem, model._bn0]] + stages + [[model._conv_head, model._bn1]]
    for depth in (0, 1, 3, 9):
        freeze(model, depth)
        trained = [m for group in groups[9 - depth :] for m in group]
        assert n_trainable(model) == n_params(model._fc, *trained), depth


# ---- transformers ----------------------------------------------------------------------------------
def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=1000
    )
    return BertForSequenceClassification(cfg)


def test_bert_blocks_and_counts():
    model = tiny_bert()
    assert [n for n, _ in blocks(model)] == ["embeddings", "encoder.layer.0", "encoder.layer.1", "pooler"]
    bert = model.bert
    groups = [bert.embeddings, bert.encoder.layer[0], bert.encoder.layer[1], bert.pooler]
    for depth in range(5):
        freeze(model, depth)
        assert n_trainable(model) == n_params(model.classifier, *groups[4 - depth :]), depth
    groups_ = param_groups(model, 1e-3)
    assert groups_[0]["name"] == "head" and groups_[0]["lr"] == 1e-3


@pytest.mark.parametrize("tied", [False, True])
def test_decoder_lm_blocks_counts_and_tied_head(tied):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=500,
        tie_word_embeddings=tied,
    )
    model = LlamaForCausalLM(cfg)
    assert [n for n, _ in blocks(model)] == ["embed_tokens", "layers.0", "layers.1", "layers.2", "norm"]
    inner = model.model
    groups = [inner.embed_tokens, inner.layers[0], inner.layers[1], inner.layers[2], inner.norm]
    for depth in range(6):
        summary = freeze(model, depth)
        trained = groups[5 - depth :] + (
            [inner.embed_tokens] if tied else []
        )  # a tied head trains the embeddings
        assert n_trainable(model) == n_params(model.lm_head, *trained), depth
    assert summary.total == n_params(model)
    assert any("tied" in note for note in summary.notes) == tied


def test_qwen2_decoder_is_recognised():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=500,
    )
    model = Qwen2ForCausalLM(cfg)
    freeze(model, 1)
    assert n_trainable(model) == n_params(model.lm_head, model.model.norm)


# ---- unknown architectures ------------------------------------------------------------------------
def test_unknown_architecture_asks_for_blocks():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ConfigError, match="blocks="):
        freeze(model, 1)
    freeze(model, 1, blocks=["0", "2"], head="4")
    assert n_trainable(model) == n_params(model[2], model[4])
    assert max_depth(model) == 2  # the explicit blocks are remembered


# ---- learning-rate groups -------------------------------------------------------------------------
def test_param_groups_head_backbone_and_no_decay(resnet):
    freeze(resnet, 1)
    groups = param_groups(resnet, lr=1e-3, backbone_lr_mult=0.1, weight_decay=0.05)
    by_name = {g["name"]: g for g in groups}
    assert list(by_name) == ["head", "head (no decay)", "layer4", "layer4 (no decay)"]
    assert [len(by_name[n]["params"]) for n in by_name] == [
        1,
        1,
        3,
        6,
    ]  # fc.w | fc.b | 3 convs | 3 BNs x (w, b)
    assert by_name["head"]["lr"] == 1e-3 and math.isclose(by_name["layer4"]["lr"], 1e-4)
    assert by_name["head"]["weight_decay"] == 0.05 and by_name["layer4 (no decay)"]["weight_decay"] == 0.0
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == n_trainable(resnet)


def test_param_groups_layer_decay(resnet):
    freeze(resnet, 3)
    groups = {g["name"]: g["lr"] for g in param_groups(resnet, lr=1.0, backbone_lr_mult=0.1, layer_decay=0.5)}
    assert set(groups) == {
        "head",
        "head (no decay)",
        "layer4",
        "layer4 (no decay)",
        "layer3",
        "layer3 (no decay)",
        "layer2",
        "layer2 (no decay)",
    }
    assert math.isclose(groups["layer4"], 0.1) and math.isclose(groups["layer3"], 0.05)
    assert math.isclose(groups["layer2 (no decay)"], 0.025)


def test_param_groups_unknown_model_without_head():
    model = nn.Sequential(nn.Linear(4, 3))
    groups = param_groups(model, lr=0.01)
    assert [(g["name"], g["lr"]) for g in groups] == [("model", 0.01), ("model (no decay)", 0.01)]
