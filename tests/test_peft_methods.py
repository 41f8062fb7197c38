"""ftkit.peft_methods on the tiny random BERT (seconds): (IA)3 and prefix tuning through PEFT, wired
like LoRA; the trainable counts are PEFT's own, and they match a count by hand."""

import pytest
import torch
from tiny_data import SENTIMENT_CSV, tiny_bert

from ftkit.data.text import load_text_table
from ftkit.errors import ConfigError
from ftkit.lora import LoraSettings, trainable_share
from ftkit.peft_methods import PEFT_METHODS, IA3Settings, PrefixSettings, apply_peft, peft_settings

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return load_text_table(SENTIMENT_CSV, max_rows=40, seed=0, split=(0.6, 0.2, 0.2))


def _batch(loaded, data):
    return loaded.tokenizer(list(data.train["text"][:4]), padding=True, return_tensors="pt")


def test_ia3_trains_one_vector_per_adapted_layer_and_the_head(data):
    loaded = tiny_bert(data)
    config = loaded.model.config
    model = apply_peft(loaded.model, peft_settings("ia3", task_type="SEQ_CLS"), verbose=False)
    peft_count, _ = model.get_nb_trainable_parameters()
    assert trainable_share(model)["trainable"] == peft_count
    h, ffn, labels = config.hidden_size, config.intermediate_size, config.num_labels
    # PEFT's BERT default: key, value (output scaled) and every "output.dense" (input scaled):
    # the attention's output projection (input h) and the feed-forward's second layer (input ffn)
    by_hand = config.num_hidden_layers * (h + h + h + ffn) + (h * labels + labels)
    assert peft_count == by_hand


def test_prefix_tuning_trains_key_value_vectors_per_layer_and_they_change_the_logits(data):
    loaded = tiny_bert(data)
    config, batch = loaded.model.config, _batch(loaded, data)
    settings = PrefixSettings(task_type="SEQ_CLS", num_virtual_tokens=5)
    model = apply_peft(loaded.model, settings, verbose=False).eval()
    peft_count, _ = model.get_nb_trainable_parameters()
    h, labels = config.hidden_size, config.num_labels
    assert peft_count == 5 * config.num_hidden_layers * 2 * h + (h * labels + labels)
    assert trainable_share(model)["trainable"] == peft_count
    prefix = model.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        before = model(**batch).logits
        prefix.add_(1.0)
        after = model(**batch).logits
    assert (before - after).abs().max() > 1e-6, "the encoder must read the prefix"
    model.train()
    model(**batch, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    assert prefix.grad is not None and prefix.grad.abs().sum() > 0


def test_lora_through_apply_peft_is_apply_lora(data):
    settings = peft_settings("lora", task_type="SEQ_CLS", target_modules=["query", "value"])
    assert isinstance(settings, LoraSettings) and PEFT_METHODS["lora"] is LoraSettings
    a = apply_peft(tiny_bert(data).model, settings, verbose=False)
    assert trainable_share(a)["trainable"] == a.get_nb_trainable_parameters()[0]


def test_same_seed_same_start(data):
    loaded = tiny_bert(data)
    batch = _batch(loaded, data)
    outs = []
    for _ in range(2):
        model = apply_peft(tiny_bert(data).model, PrefixSettings(task_type="SEQ_CLS", seed=3), verbose=False)
        with torch.no_grad():
            outs.append(model.eval()(**batch).logits)
    assert torch.equal(outs[0], outs[1])


def test_apply_peft_prints_what_trains(data, capsys):
    model = tiny_bert(data).model
    capsys.readouterr()
    apply_peft(model, IA3Settings(task_type="SEQ_CLS"))
    out = capsys.readouterr().out
    assert out.startswith("(IA)3 on ") and "key" in out and "trainable of" in out


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: peft_settings("lroa"), "Unknown PEFT method 'lroa'"),
        (lambda: peft_settings("ia3", task_type="TOKEN_CLS"), "task_type"),
        (lambda: PrefixSettings(num_virtual_tokens=0), "num_virtual_tokens"),
        (lambda: PrefixSettings(prefix_projection="yes"), "prefix_projection"),
        (lambda: IA3Settings(feedforward_modules=["output.dense"]), "must also be in target_modules"),
        (lambda: IA3Settings(target_modules="key"), "target_modules"),
    ],
)
def test_bad_settings_raise_one_line_config_errors(call, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        call()
    assert "\n" not in str(err.value)


def test_unknown_ia3_target_lists_the_layers(data):
    with pytest.raises(ConfigError, match="not found") as err:
        apply_peft(tiny_bert(data).model, IA3Settings(task_type="SEQ_CLS", target_modules=["q_proj"]))
    assert "query" in str(err.value) and "\n" not in str(err.value)


def test_apply_peft_rejects_other_objects(data):
    with pytest.raises(ConfigError, match="apply_peft takes"):
        apply_peft(tiny_bert(data).model, {"method": "ia3"})
