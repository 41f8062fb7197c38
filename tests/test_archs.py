"""The table of model families: freeze and the feature cache read the same blocks from it."""

import pytest
import torch
from torch import nn

from ftkit.archs import FAMILIES, block_plan, family_of, split_forward
from ftkit.errors import ConfigError
from ftkit.infra.compat import ensure_torchvision

ensure_torchvision()
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402

torch.set_num_threads(1)


def resnet():
    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3)


def efficientnet():
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    return EfficientNet.from_name("efficientnet-lite0", num_classes=2)


def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=100
    )
    return BertForSequenceClassification(cfg)


def test_the_table_names_every_family_once():
    names = [f.name for f in FAMILIES]
    assert names == ["resnet", "efficientnet-lite", "bert", "decoder-lm"]
    assert {f.name: f.batchnorm for f in FAMILIES} == {
        "resnet": True,
        "efficientnet-lite": True,
        "bert": False,
        "decoder-lm": False,
    }


@pytest.mark.parametrize("make", [resnet, efficientnet])
def test_cache_steps_follow_the_blocks_and_reproduce_the_forward(make):
    model = make().eval()
    family, plan = family_of(model)
    steps = split_forward(model)
    assert family.steps is not None and steps is not None
    assert [s.name for s in steps if s.kind == "block"] == [name for name, _ in plan.blocks]
    assert steps[-1].kind == "head" and steps[-1].name == plan.head
    x = torch.randn(2, 3, 64, 64)
    out = x
    with torch.no_grad():
        for step in steps:
            out = step.run(out)
        assert torch.allclose(out, model(x), atol=1e-5)


def test_transformers_are_known_but_not_split():
    model = tiny_bert()
    family, plan = family_of(model)
    assert family.name == "bert" and plan.head == "classifier" and split_forward(model) is None


def test_unknown_models_get_a_one_line_hint():
    model = nn.Sequential(nn.Linear(4, 2))
    assert family_of(model) == (None, None) and split_forward(model) is None
    with pytest.raises(ConfigError, match="blocks=") as err:
        block_plan(model)
    assert "\n" not in str(err.value)
