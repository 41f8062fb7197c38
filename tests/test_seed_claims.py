"""The facts docs/ERRATA.md and the lessons state about the seeds' code, checked on the pinned stack.

Model shapes are built on the `meta` device (no memory, no download) from published sizes:
Llama-2-7B (vocab 32,000, hidden 4,096, 32 layers, MLP 11,008), Qwen2.5-7B (vocab 152,064, hidden 3,584,
28 layers, 28 query / 4 key-value heads, MLP 18,944), bert-base-uncased (vocab 30,522, hidden 768, 12 layers,
MLP 3,072) and the first Qwen generation's Qwen-7B (vocab 151,936, hidden 4,096, 32 layers, MLP 2 x 11,008;
its remote code: one fused `c_attn` for q, k, v with a bias, `c_proj`, `w1`, `w2`, RMSNorms `ln_1`, `ln_2`).
"""

import warnings

import pytest
import torch
from torch import nn

from ftkit import ensure_torchvision

ensure_torchvision()  # transformers imports torchvision (see ftkit/infra/compat.py)

from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    BertPreTrainedModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Trainer,
    TrainingArguments,
)


def _counts(model):
    return (
        sum(p.numel() for p in model.parameters() if p.requires_grad),
        sum(p.numel() for p in model.parameters()),
    )


def _seed_001_lora(model):  # seed 001's LoraConfig, verbatim
    return get_peft_model(
        model,
        LoraConfig(
            r=8,
            lora_alpha=32,
            target_modules=["q_proj", "v_proj"],
            lora_dropout=0.1,
            bias="none",
            task_type="CAUSAL_LM",
        ),
    )


class _QwenV1Attention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d, bias=False)


class _QwenV1MLP(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.w1 = nn.Linear(d, f, bias=False)
        self.w2 = nn.Linear(d, f, bias=False)
        self.c_proj = nn.Linear(f, d, bias=False)


class _QwenV1Block(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.ln_1, self.attn = nn.RMSNorm(d), _QwenV1Attention(d)
        self.ln_2, self.mlp = nn.RMSNorm(d), _QwenV1MLP(d, f)


class _QwenV1(nn.Module):
    """Qwen-7B(-Chat)'s module names and shapes; the real class is remote code, not in transformers."""

    def __init__(self, vocab=151936, d=4096, layers=32, f=11008):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.h = nn.ModuleList(_QwenV1Block(d, f) for _ in range(layers))
        self.ln_f = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)


def test_seed_001_qwen_7b_chat_has_no_q_proj_for_its_lora_config():
    with torch.device("meta"):
        model = _QwenV1()
    with pytest.raises(ValueError, match="not found in the base model"):
        _seed_001_lora(model)


def test_seed_001_qwen_7b_fp16_weights_alone_exceed_8_gb():
    with torch.device("meta"):
        model = _QwenV1()
    n = _counts(model)[1]
    assert n == 7_721_324_544
    assert 2 * n > 15e9  # bytes in float16, before activations, gradients or optimizer state


def test_seed_001_printed_count_is_llama_2_7b_with_half_the_trainable_weights():
    with torch.device("meta"):
        llama = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=32000,
                hidden_size=4096,
                intermediate_size=11008,
                num_hidden_layers=32,
                num_attention_heads=32,
                num_key_value_heads=32,
            )
        )
    assert _counts(llama)[1] == 6_738_415_616
    trainable, total = _counts(_seed_001_lora(llama))
    assert (trainable, total) == (4_194_304, 6_742_609_920)  # the seed prints 8,388,608 || 6,742,609,920
    assert round(100 * trainable / total, 4) == 0.0622


def test_seed_001_config_on_qwen2_5_7b():
    with torch.device("meta"):
        qwen = Qwen2ForCausalLM(
            Qwen2Config(
                vocab_size=152064,
                hidden_size=3584,
                intermediate_size=18944,
                num_hidden_layers=28,
                num_attention_heads=28,
                num_key_value_heads=4,
            )
        )
    assert _counts(_seed_001_lora(qwen)) == (2_523_136, 7_618_139_648)


def test_seed_003_lora_on_bert_base_trains_296_450_not_10_240():
    with torch.device("meta"):
        bert = BertForSequenceClassification(BertConfig(num_labels=2))  # BertConfig's defaults are bert-base
        model = get_peft_model(
            bert,
            LoraConfig(
                r=8,
                lora_alpha=16,
                target_modules=["query", "value"],
                lora_dropout=0.1,
                bias="none",
                task_type="SEQ_CLS",
            ),
        )
    trainable, total = _counts(model)
    lora = sum(p.numel() for name, p in model.named_parameters() if "lora_" in name)
    assert (lora, trainable, total) == (294_912, 296_450, 109_780_228)


def test_seed_003_classification_head_returns_logits_without_softmax():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
    )
    model = BertForSequenceClassification(config).eval()
    assert not any(isinstance(m, nn.Softmax) for m in model.modules())
    logits = model(input_ids=torch.randint(0, 100, (4, 6))).logits
    assert not torch.allclose(logits.sum(-1), torch.ones(4))


def test_seed_002_custom_head_without_post_init(tmp_path):
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )

    class BertForSentimentAnalysis(BertPreTrainedModel):  # seed 002 step 3, without self.post_init()
        def __init__(self, config):
            super().__init__(config)
            self.bert = BertModel(config)
            self.dropout = nn.Dropout(config.hidden_dropout_prob)
            self.classifier = nn.Linear(config.hidden_size, 3)

    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(AttributeError, match="all_tied_weights_keys"):
        BertForSentimentAnalysis.from_pretrained(tmp_path)
    torch.manual_seed(0)
    head = BertForSentimentAnalysis(config).classifier.weight
    assert head.std() > 3 * config.initializer_range  # PyTorch's default init, not BERT's normal(0, 0.02)


def test_training_arguments_names_in_transformers_5(tmp_path):
    base = {"output_dir": str(tmp_path), "report_to": "none", "use_cpu": True}
    for gone in ({"evaluation_strategy": "epoch"}, {"warmup_ratio": 0.1}):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            TrainingArguments(**base, **gone)
    # warmup_steps takes its place: a float < 1 is a share of the steps
    assert TrainingArguments(**base, warmup_steps=0.1).warmup_steps == 0.1
    with pytest.warns(FutureWarning, match="activation_checkpointing"):
        assert TrainingArguments(**base, gradient_checkpointing=True).activation_checkpointing is True


def test_seed_003_full_script_arguments_fail_even_after_the_rename(tmp_path):
    with pytest.raises(ValueError, match="save and eval strategy to match"):
        TrainingArguments(
            output_dir=str(tmp_path),
            report_to="none",
            use_cpu=True,
            eval_strategy="epoch",
            save_steps=500,
            load_best_model_at_end=True,
            metric_for_best_model="accuracy",
        )


def test_seed_imports_and_trainer_arguments_that_are_gone():
    import inspect

    import transformers

    assert not hasattr(transformers, "AdamW")  # seed 003: from transformers import AdamW
    assert not hasattr(transformers, "AdapterConfig")  # seed 003: the adapter-transformers fork
    params = inspect.signature(Trainer.__init__).parameters
    # seeds 001 and 003: Trainer(tokenizer=...)
    assert "processing_class" in params and "tokenizer" not in params


def test_seed_001_param_name_is_none():
    param = nn.Linear(2, 2).weight
    assert param.name is None
    with pytest.raises(TypeError):
        "q_proj" in param.name  # noqa: B015  (the seed's test)
    assert [name for name, _ in nn.Linear(2, 2).named_parameters()] == ["weight", "bias"]


def test_fp16_on_a_cpu_is_accepted_and_silently_ignored(tmp_path):
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
    )
    data = [
        {
            "input_ids": torch.randint(0, 100, (8,), generator=torch.Generator().manual_seed(i)),
            "labels": torch.tensor(i % 2),
        }
        for i in range(8)
    ]
    weights = {}
    for fp16 in (False, True):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
        args = TrainingArguments(
            output_dir=str(tmp_path / str(fp16)),
            report_to="none",
            use_cpu=True,
            fp16=fp16,
            max_steps=2,
            per_device_train_batch_size=4,
            seed=0,
            save_strategy="no",
            disable_tqdm=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no warning says fp16 is ignored
            trainer = Trainer(model=model, args=args, train_dataset=data)
            trainer.train()
        assert trainer.accelerator.native_amp is False and trainer.accelerator.scaler is None
        weights[fp16] = [p.detach().clone() for p in model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(weights[False], weights[True], strict=True))


def test_torchvision_pretrained_true_still_works_and_means_v1(monkeypatch):
    from torchvision import models
    from torchvision.models._api import WeightsEnum

    asked = []

    def no_download(self, *args, **kwargs):
        asked.append(self)
        raise RuntimeError("stop before downloading")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", no_download)
    with (
        pytest.warns(UserWarning, match="'pretrained' is deprecated since 0.13"),
        pytest.raises(RuntimeError, match="stop before downloading"),
    ):
        models.resnet50(pretrained=True)
    assert asked == [models.ResNet50_Weights.IMAGENET1K_V1]
    assert models.ResNet50_Weights.DEFAULT == models.ResNet50_Weights.IMAGENET1K_V2
