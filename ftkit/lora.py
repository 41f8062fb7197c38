"""LoRA instruction tuning of a chat model: settings, training, evaluation, saving, merging.

    settings = LoraSettings(r=8, lora_alpha=32, lora_dropout=0.1, target_modules="attention q,v")
    model = apply_lora(loaded.model, settings)              # prints the trainable share
    run = train_sft(model, tok, data.train, data.eval, steps=60, callbacks=[LivePlot()])
    print(diagnose(run.history)); compare_answers(base_answers, model, tok, prompts)
    save_adapter(model, "out/adapter"); tuned = load_adapter(fresh_base, "out/adapter")

What LoRA does: a frozen weight matrix W (d_out x d_in) gets a trainable low-rank update,
    W x  ->  W x + (alpha / r) * B A x        A: r x d_in (random),  B: d_out x r (zeros)
B starts at zero, so the model starts exactly as the base model.  Only A and B train:
r * (d_in + d_out) numbers per adapted matrix instead of d_in * d_out.  `alpha / r` scales
the update so that changing r does not force a new learning rate.

Where the seed article's code no longer works as written (PEFT 0.21, transformers 5.23):
* `from_pretrained(..., torch_dtype=...)` is now `dtype=...` (the old name still loads, with a warning);
  `Trainer(tokenizer=...)` is now `Trainer(processing_class=...)`.
* Its data collator sets `labels = input_ids`: the model is then also trained to write the
  user's question.  ftkit masks the prompt (labels -100) and trains on the response only.
* `fp16=True` on a CPU is accepted and silently ignored: accelerate 1.15 enables fp16 autocast only
  on a GPU-like device, so training runs in float32.  Half precision is for CUDA only (bf16 on CPU
  runs ~5x slower).
* `evaluate.load("perplexity")` downloads a metric script and a model: we compute the
  perplexity ourselves, from the same masked loss the training uses.
* `model.generate(max_length=200)` counts the prompt too; use `max_new_tokens`.
`LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj","v_proj"], lora_dropout=0.1,
bias="none", task_type="CAUSAL_LM")`, `get_peft_model`, `print_trainable_parameters`,
`PeftModel.from_pretrained` and `merge_and_unload` are unchanged.
Names from other recipes (transformers 5.23): `TrainingArguments(evaluation_strategy=...)` is
`eval_strategy` (renamed in 4.41, removed in 4.51); `warmup_ratio` is not a `TrainingArguments` name
(pass `warmup_steps`: a float < 1 is a share of the steps); `gradient_checkpointing` is a deprecated
alias of `activation_checkpointing`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .infra.compat import ensure_torchvision

ensure_torchvision()  # transformers (imported below through PEFT) imports torchvision when installed

import torch  # noqa: E402

from .errors import ConfigError, ModelError  # noqa: E402
from .infra.runtime import memory_advice, oom_guard  # noqa: F401 (memory_advice is re-exported)

__all__ = [
    "LoraSettings",
    "TARGET_PRESETS",
    "linear_module_names",
    "lora_config",
    "apply_lora",
    "trainable_share",
    "TrainRun",
    "train_sft",
    "response_loss",
    "perplexity",
    "generate",
    "compare_answers",
    "repetition_rate",
    "save_adapter",
    "load_adapter",
    "merge",
    "logits_agree",
    "Agreement",
    "memory_advice",
    "oom_guard",
    "qlora_note",
    "peak_rss_mb",
    "measure_train_memory",
    "activation_memory_mb",
    "training_memory_table",
]

# Named choices of which weight matrices get an adapter.
TARGET_PRESETS = {
    "attention q,v": ["q_proj", "v_proj"],  # the seed article's choice (and the LoRA paper's)
    "all linear": "all-linear",  # every Linear layer in the blocks (QLoRA paper); resolved per model
}


# =========================================================================================
# Settings
# =========================================================================================
@dataclass
class LoraSettings:
    """The LoRA knobs (the same names as `peft.LoraConfig`), checked before any slow work."""

    r: int = field(
        default=8, metadata={"help": "rank of the update B A; 8 is the seed's value, 4-64 is usual"}
    )
    lora_alpha: float = field(
        default=32, metadata={"help": "the update is scaled by lora_alpha / r; 32 as in the seed (scale 4)"}
    )
    lora_dropout: float = field(
        default=0.1,
        metadata={"help": "dropout on the adapter's input; 0.1 as in the seed, helps tiny data sets"},
    )
    target_modules: object = field(
        default="attention q,v",
        metadata={
            "help": "a TARGET_PRESETS name ('attention q,v', 'all linear') or a list of module names like ['q_proj', 'v_proj']"
        },
    )
    bias: str = field(
        default="none",
        metadata={"help": "'none' keeps every bias frozen (the seed's choice, and the smallest adapter)"},
    )
    seed: int = field(
        default=0, metadata={"help": "seeds the random init of the A matrices, so two runs start the same"}
    )

    def __post_init__(self):
        if not isinstance(self.r, int) or isinstance(self.r, bool) or self.r < 1:
            raise ConfigError(f"LoRA rank r must be a positive integer, got {self.r!r}. 8 is a good start.")
        if (
            not isinstance(self.lora_alpha, (int, float))
            or isinstance(self.lora_alpha, bool)
            or not self.lora_alpha > 0
        ):
            raise ConfigError(
                f"lora_alpha must be a positive number, got {self.lora_alpha!r}. Try 2-4 x r, e.g. 32 for r=8."
            )
        if not isinstance(self.lora_dropout, (int, float)) or not 0 <= self.lora_dropout < 1:
            raise ConfigError(
                f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}. 0.05-0.1 is usual."
            )
        if self.bias not in ("none", "all", "lora_only"):
            raise ConfigError(f"bias must be 'none', 'all' or 'lora_only', got {self.bias!r}.")
        if isinstance(self.target_modules, str):
            if self.target_modules not in TARGET_PRESETS:
                raise ConfigError(
                    f"Unknown target_modules preset {self.target_modules!r}. Use one of "
                    f"{', '.join(map(repr, TARGET_PRESETS))} or a list of module names like ['q_proj', 'v_proj']."
                )
        elif not (
            isinstance(self.target_modules, (list, tuple))
            and self.target_modules
            and all(isinstance(m, str) and m for m in self.target_modules)
        ):
            raise ConfigError(
                f"target_modules must be a preset name or a non-empty list of module names, got {self.target_modules!r}."
            )
        else:
            self.target_modules = list(self.target_modules)

    @property
    def scale(self) -> float:
        """lora_alpha / r: how strongly the update B A is added to the frozen weight."""
        return self.lora_alpha / self.r

    def resolve_targets(self, model) -> list:
        """The module names this setting adapts in `model`; ConfigError if one does not exist."""
        available = linear_module_names(model)
        wanted = (
            TARGET_PRESETS.get(self.target_modules, self.target_modules)
            if isinstance(self.target_modules, str)
            else self.target_modules
        )
        if wanted == "all-linear":
            return available
        missing = [m for m in wanted if m not in available]
        if missing:
            raise ConfigError(
                f"target_modules {missing} not found in {type(model).__name__}. "
                f"Its linear layers are: {', '.join(available)}."
            )
        return list(wanted)

    def to_dict(self) -> dict:
        return asdict(self)


def linear_module_names(model) -> list:
    """Short names of the model's Linear layers (q_proj, v_proj, ...), the output head excluded.

    These are the names `target_modules` may use; the head (lm_head) maps to the 49k-word
    vocabulary and is left alone, like PEFT's own "all-linear"."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = []
    for full_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            short = full_name.rsplit(".", 1)[-1]
            if short not in names:
                names.append(short)
    return names


def lora_config(settings: LoraSettings, model):
    """The `peft.LoraConfig` for `settings` on `model` (target names checked against the model)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.resolve_targets(model),
        bias=settings.bias,
        task_type="CAUSAL_LM",
    )


def apply_lora(model, settings: LoraSettings | None = None, verbose: bool = True):
    """Freeze `model` and add LoRA adapters: returns the `PeftModel` (the base is changed in place).

    PEFT's `print_trainable_parameters()` prints "trainable params: T || all params: N ||
    trainable%: T/N": N counts the frozen base AND the adapters.  We print the same numbers
    plus the adapted modules and the scale alpha / r.
    """
    from peft import get_peft_model

    settings = settings or LoraSettings()
    if not isinstance(settings, LoraSettings):
        raise ConfigError(
            f"apply_lora takes LoraSettings, got {type(settings).__name__}. Use LoraSettings(r=8, ...)."
        )
    config = lora_config(settings, model)  # checks the module names before touching the model
    with torch.random.fork_rng(devices=[]):  # the A matrices start from `settings.seed`, not the global state
        torch.manual_seed(settings.seed)
        with _quiet_deprecations():
            peft_model = get_peft_model(model, config)
    if verbose:
        share = trainable_share(peft_model)
        print(
            f"LoRA r={settings.r}, alpha={settings.lora_alpha} (scale {settings.scale:g}) on "
            f"{', '.join(config.target_modules if isinstance(config.target_modules, list) else sorted(config.target_modules))}: "
            f"{share['trainable']:,} trainable of {share['total']:,} parameters ({share['percent']:.3f}%)"
        )
    return peft_model


@contextlib.contextmanager
def _quiet_deprecations():
    """PEFT 0.21 still reads transformers' old `is_gradient_checkpointing` name, which warns
    (FutureWarning) on every call; the warning is about PEFT, not about the learner's code."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def trainable_share(model) -> dict:
    """{'trainable', 'total', 'percent'}: the numbers behind print_trainable_parameters()."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / max(total, 1)}


# =========================================================================================
# Training
# =========================================================================================
@dataclass
class TrainRun:
    """What `train_sft` returns: the curves, the Trainer, and how long it took."""

    history: object  # ftkit.History (train + eval loss, for plot_history and diagnose)
    trainer: object = field(repr=False)  # the transformers Trainer, for anything else
    wall_s: float = 0.0  # seconds of training (evaluations included)
    steps: int = 0  # optimizer steps done
    tokens: int = 0  # training tokens seen (padding excluded)
    final_eval_loss: float | None = None  # the last evaluation's loss


def train_sft(
    model,
    tokenizer,
    train_records,
    eval_records=None,
    steps: int = 60,
    lr: float = 2e-4,
    batch_size: int = 4,
    grad_accum: int = 2,
    warmup_ratio: float = 0.1,
    max_length: int = 256,
    seed: int = 0,
    callbacks=(),
    eval_every: int | None = None,
    weight_decay: float = 0.0,
    gradient_checkpointing: bool = False,
    group_by_length: bool = True,
    label: str = "",
    verbose: bool = True,
) -> TrainRun:
    """Supervised fine-tuning with the HF Trainer, loss on the response tokens only.

    steps          optimizer steps (each sees batch_size * grad_accum examples)
    lr             2e-4 is the usual LoRA rate (the seed's); full fine-tuning wants ~10x less
    grad_accum     gradient accumulation: add up the gradients of several small batches before
                   one optimizer step, i.e. a bigger batch without the memory of one
    warmup_ratio   the first share of the steps ramp the rate up from 0 (no big early jolts)
    eval_every     evaluate every N steps (None: about 4 evaluations in the run)
    group_by_length  batch examples of similar length together (still shuffled): a batch is
                   padded to its longest example, and padding costs as much compute as real
                   tokens (random batches of 4 alpaca records are ~1/3 padding; grouped, ~1 %)
    callbacks      ftkit callbacks (e.g. LivePlot()) fed through ftkit.hf.HistoryCallback
    Half precision (bf16) is used on CUDA only; on a CPU everything stays float32.
    """
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from .data.instructions import SFTCollator, build_sft_dataset
    from .hf import HistoryCallback, release_training_memory

    _check_int("steps", steps)
    _check_int("batch_size", batch_size)
    _check_int("grad_accum", grad_accum)
    if not (isinstance(lr, (int, float)) and 0 < lr < 1):
        raise ConfigError(f"lr must be a number in (0, 1), got {lr!r}. 2e-4 is the usual LoRA rate.")
    if not 0 <= warmup_ratio < 1:
        raise ConfigError(
            f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}. 0.1 warms up over the first tenth."
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(
            "No parameter of this model is trainable. Call apply_lora(model, LoraSettings()) first, "
            "or unfreeze the model for full fine-tuning."
        )
    train_ds = (
        train_records
        if hasattr(train_records, "examples")
        else build_sft_dataset(tokenizer, train_records, max_length)
    )
    eval_ds = None
    if eval_records is not None and len(eval_records):
        eval_ds = (
            eval_records
            if hasattr(eval_records, "examples")
            else build_sft_dataset(tokenizer, eval_records, max_length)
        )
    # ~4 points on the eval curve: enough to see a trend; each evaluation costs about as much as
    # a few training steps on a CPU (SmolLM2: ~20 s for 24 held-out records)
    eval_every = eval_every or max(1, steps // 4)
    cuda = torch.cuda.is_available()
    out = tempfile.mkdtemp(prefix="ftkit-sft-")  # the Trainer wants a folder; we save nothing there
    args = TrainingArguments(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=lr,
        lr_scheduler_type="linear",  # warm up, then decay linearly to 0 (the Trainer's default)
        warmup_steps=int(
            round(warmup_ratio * steps)
        ),  # transformers 5: warmup_ratio is folded into warmup_steps
        weight_decay=weight_decay,
        logging_steps=1,  # a training-loss point per optimizer step for the curves
        # batches of similar lengths (seeded random order of length-sorted chunks): far less padding
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        eval_strategy="steps" if eval_ds is not None else "no",
        eval_steps=eval_every,
        save_strategy="no",  # the adapter is saved explicitly with save_adapter
        report_to=[],  # no wandb/tensorboard: nothing leaves the machine
        seed=seed,
        data_seed=seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),  # half precision only on a GPU (5x slower on this CPU)
        use_cpu=not cuda,
        dataloader_num_workers=0,  # worker processes cost more than they save on 2 cores
        prediction_loss_only=True,  # never keep eval logits: 49k-word vocab x tokens would fill memory
        # transformers 5 renamed gradient_checkpointing to activation_checkpointing (same thing)
        activation_checkpointing=gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        disable_tqdm=True,  # the live plot shows progress; a bar per run clutters the notebook
        remove_unused_columns=False,  # our examples are plain dicts the collator reads
    )
    record = HistoryCallback(*callbacks, label=label)
    record.history.config = {
        "lr": lr,
        "steps": steps,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "warmup_ratio": warmup_ratio,
        "max_length": max_length,
        "group_by_length": group_by_length,
        "label": label,
    }
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=SFTCollator(tokenizer),
        processing_class=tokenizer,
        callbacks=[record],
    )
    trainer.remove_callback(
        PrinterCallback
    )  # it prints every log dict; the curves and one summary line suffice
    start = time.perf_counter()
    try:
        with oom_guard(batch_size=batch_size, grad_accum=grad_accum):
            trainer.train()
    finally:
        wall = time.perf_counter() - start
        # the optimizer state and gradients go, and freed activations go back to the OS instead of
        # staying with malloc (what lets lesson 04 fit Binder's 2 GB)
        release_training_memory(trainer)
    model.eval()
    last = record.history.last() or {}
    tokens = _approx_tokens(train_ds, trainer.state.global_step * batch_size * grad_accum)
    run = TrainRun(
        history=record.history,
        trainer=trainer,
        wall_s=wall,
        steps=trainer.state.global_step,
        tokens=tokens,
        final_eval_loss=last.get("val_loss"),
    )
    if verbose:
        first = record.history.steps[0]["train_loss"] if record.history.steps else float("nan")
        end = record.history.steps[-1]["train_loss"] if record.history.steps else float("nan")
        evl = f", eval loss {run.final_eval_loss:.3f}" if run.final_eval_loss is not None else ""
        print(
            f"trained {run.steps} steps in {wall:.0f} s ({wall / max(run.steps, 1):.1f} s/step): "
            f"train loss {first:.3f} -> {end:.3f}{evl}"
        )
    return run


def _approx_tokens(ds, n_examples: int) -> int:
    """Real (non-padding) tokens in n_examples drawn from ds, from the mean example length."""
    lengths = ds.lengths
    return int(sum(lengths) / len(lengths) * n_examples)


def _check_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}. Set e.g. {name}=10.")


# =========================================================================================
# Evaluation: masked loss, perplexity, generation
# =========================================================================================
@torch.no_grad()
def response_loss(model, tokenizer, records_or_texts, max_length: int = 256, batch_size: int = 8) -> float:
    """Mean negative log-likelihood per token (nats) of the responses, or of whole plain texts.

    records (alpaca dicts or message lists): only the assistant's tokens count, as in training.
    texts (strings): every token after the first counts (general text, to spot forgetting).
    Every token weighs the same (a long response counts more than a short one).
    """
    from .data.instructions import IGNORE_INDEX, SFTCollator, build_sft_dataset

    items = list(records_or_texts)
    if not items:
        raise ConfigError("response_loss needs at least one record or text.")
    if all(isinstance(x, str) for x in items):
        examples = []
        for text in items:
            ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)[
                "input_ids"
            ]
            examples.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    else:
        with contextlib.redirect_stdout(
            open(os.devnull, "w")
        ):  # build_sft_dataset's summary line is noise here
            examples = build_sft_dataset(tokenizer, items, max_length).examples
    examples.sort(key=lambda e: len(e["input_ids"]))  # similar lengths per batch: little padding, same sum
    collate = SFTCollator(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[i : i + batch_size]).items()}
        targets = batch["labels"][:, 1:]  # token t is predicted from tokens < t
        keep = targets != IGNORE_INDEX
        hidden, head = _hidden_and_head(model, batch)
        hidden = hidden[:, :-1][keep]  # only the positions that count go through the output layer
        chosen = targets[keep]
        for j in range(0, len(chosen), _HEAD_CHUNK):
            logits = head(hidden[j : j + _HEAD_CHUNK]).float()
            total += torch.nn.functional.cross_entropy(
                logits, chosen[j : j + _HEAD_CHUNK], reduction="sum"
            ).item()
        count += int(keep.sum())
    model.train(was_training)
    return total / max(count, 1)


# Tokens per output-layer call in `response_loss`.  The output layer turns each position into one
# score per vocabulary word (SmolLM2: 49,152): 8 x 256 positions at once would be 400 MB of
# float32 scores, plus as much again for the softmax.  256 positions at a time is ~50 MB, the same sum.
_HEAD_CHUNK = 256


def _hidden_and_head(model, batch):
    """The last hidden states of a causal LM and its output layer, or (logits, identity) for a
    model whose scores are not a plain output layer on the hidden states (e.g. Gemma's soft cap)."""
    base = (
        model.get_base_model() if hasattr(model, "get_base_model") else model
    )  # PEFT: adapters stay in place
    config = getattr(base, "config", None)
    special = getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if special or head is None or decoder is None or decoder is base:
        return model(**inputs).logits, torch.nn.Identity()
    return decoder(**inputs).last_hidden_state, head


def perplexity(model, tokenizer, records_or_texts, max_length: int = 256, batch_size: int = 8) -> float:
    """exp(mean token NLL): 'how many words the model hesitates between', lower is better."""
    return math.exp(response_loss(model, tokenizer, records_or_texts, max_length, batch_size))


def _prompt_messages(prompt, system: str | None = None) -> list:
    """A user string, an alpaca record or a message list -> the messages to answer (no assistant)."""
    from .data.instructions import to_messages

    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
        return ([{"role": "system", "content": system}] if system else []) + messages
    if isinstance(prompt, dict):
        record = dict(prompt)
        record["output"] = record.get("output") or "-"  # to_messages wants an answer; we drop it below
        messages = to_messages(record, system)
    elif isinstance(prompt, list):
        messages = [dict(m) for m in prompt]
    else:
        raise ConfigError(
            f"A prompt must be a string, an alpaca record or a list of messages, got {type(prompt).__name__}."
        )
    while messages and messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    return messages


def prompt_text(prompt) -> str:
    """The user's words of a prompt (for tables)."""
    return next((m["content"] for m in reversed(_prompt_messages(prompt)) if m["role"] == "user"), "")


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts,
    max_new_tokens: int = 64,
    temperature: float | None = None,
    top_p: float | None = None,
    repetition_penalty: float | None = None,
    seed: int = 0,
    system: str | None = None,
) -> list:
    """Answer each prompt (a user string, an alpaca record or messages) with the chat template.

    temperature=None means greedy decoding: always the most likely next token, so the same
    model gives the same answer every time (what we compare before/after and after reloading).
    temperature > 0 samples (with `top_p`, seeded by `seed`); repetition_penalty > 1 makes
    tokens already written less likely.  Prompts run one at a time: no padding subtleties.
    """
    if isinstance(prompts, (str, dict)):
        prompts = [prompts]
    if temperature is not None and not temperature > 0:
        raise ConfigError(f"temperature must be > 0 or None (greedy), got {temperature!r}.")
    if repetition_penalty is not None and not repetition_penalty > 0:
        raise ConfigError(f"repetition_penalty must be > 0 (1 = off), got {repetition_penalty!r}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    options = dict(
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if temperature is None:
        options.update(
            do_sample=False, temperature=None, top_p=None, top_k=None
        )  # unset the model's sampling defaults
    else:
        options.update(
            do_sample=True, temperature=temperature, top_p=top_p if top_p is not None else 1.0, top_k=None
        )
    if repetition_penalty is not None:
        options["repetition_penalty"] = repetition_penalty
    answers = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for prompt in prompts:
            text = tokenizer.apply_chat_template(
                _prompt_messages(prompt, system), tokenize=False, add_generation_prompt=True
            )
            enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
            out = model.generate(**enc, **options)
            answers.append(
                tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
            )
    model.train(was_training)
    return answers


def compare_answers(base, tuned, tokenizer, prompts, expected: list | None = None, **generate_options):
    """A table: prompt | base answer | tuned answer (| expected).  `base` and `tuned` are models
    or lists of answers already generated (e.g. the base model's, before LoRA changed it)."""
    import pandas as pd

    prompts = list(prompts)

    def answers(who):
        if isinstance(who, (list, tuple)):
            if len(who) != len(prompts):
                raise ConfigError(
                    f"Got {len(who)} answers for {len(prompts)} prompts. Generate one answer per prompt."
                )
            return list(who)
        return generate(who, tokenizer, prompts, **generate_options)

    table = pd.DataFrame(
        {"prompt": [prompt_text(p) for p in prompts], "base": answers(base), "tuned": answers(tuned)}
    )
    if expected is not None:
        table["expected"] = list(expected)
    return table


def repetition_rate(text: str, n: int = 3) -> float:
    """Share of the word n-grams in `text` that already appeared earlier in it (0 = no loops).

    "the cat sat. the cat sat. the cat sat." -> 0.57: 4 of its 7 three-word sequences are repeats."""
    words = text.split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


# =========================================================================================
# Saving, reloading, merging
# =========================================================================================
def save_adapter(model, folder, overwrite: bool = False) -> Path:
    """Save only the adapter (A and B matrices + adapter_config.json), atomically, as safetensors."""
    from .infra.io import save_pretrained

    if not hasattr(model, "peft_config"):
        raise ConfigError(
            "save_adapter needs a PEFT model (from apply_lora). For a whole model use ftkit.save_pretrained."
        )
    folder = save_pretrained(folder, model, overwrite=overwrite)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(
        f"adapter saved to {folder}: {size / 1e6:.2f} MB on disk "
        f"({', '.join(sorted(f.name for f in folder.iterdir()))})"
    )
    return folder


def load_adapter(base_model, folder, trainable: bool = False):
    """`PeftModel.from_pretrained(base_model, folder)`: a saved adapter on a freshly loaded base.

    The base must be the same model the adapter was trained on (same preset), loaded anew:
    PEFT changes the model it is given in place.
    """
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise ModelError(f"No adapter_config.json in {str(folder)!r}. Pass the folder save_adapter wrote.")
    if hasattr(base_model, "peft_config"):
        raise ConfigError(
            "This base model already carries an adapter. Load a fresh base with ftkit.load_causal_lm first."
        )
    with _quiet_deprecations():
        model = PeftModel.from_pretrained(base_model, str(folder), is_trainable=trainable)
    return model.eval()


def merge(model, copy_first: bool = True):
    """W <- W + (alpha/r) B A for every adapted layer, then drop the adapters: a plain model.

    The merged model runs as fast as the base (no extra matmuls) and needs no PEFT to load.
    `copy_first=True` merges a copy, so the adapter model stays usable for comparisons.
    """
    if not hasattr(model, "merge_and_unload"):
        raise ConfigError("merge needs a PEFT model (from apply_lora or load_adapter).")
    return (copy.deepcopy(model) if copy_first else model).merge_and_unload().eval()


@dataclass
class Agreement:
    """How close two models' logits are on the same inputs."""

    max_abs_diff: float
    atol: float

    @property
    def agree(self) -> bool:
        return self.max_abs_diff <= self.atol

    def __bool__(self) -> bool:
        return self.agree

    def __str__(self) -> str:
        verdict = "agree" if self.agree else "DIFFER"
        return f"logits {verdict}: largest difference {self.max_abs_diff:.2e} (tolerance {self.atol:g})"

    __repr__ = __str__


@torch.no_grad()
def logits_agree(a, b, inputs, atol: float = 1e-4) -> Agreement:
    """Run two models on the same inputs (a batch dict or input_ids) and compare the logits.

    Merging adds B A into W in float32, so the logits differ only by rounding (~1e-5)."""
    if torch.is_tensor(inputs):
        inputs = {"input_ids": inputs}
    inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
    outs = []
    for model in (a, b):
        was_training = model.training
        model.eval()
        outs.append(model(**inputs).logits.float())
        model.train(was_training)
    mask = inputs.get("attention_mask")
    diff = (outs[0] - outs[1]).abs()
    if mask is not None:
        diff = diff[mask.bool()]  # padding positions do not matter
    return Agreement(max_abs_diff=float(diff.max()), atol=atol)


# =========================================================================================
# Memory: advice, the OOM guard, QLoRA, measurements
# =========================================================================================
def qlora_note() -> str:
    """QLoRA in a few lines, and whether this machine can run it (bitsandbytes + CUDA)."""
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    ready = has_bnb and torch.cuda.is_available()
    state = (
        "this machine can run it"
        if ready
        else (
            "not here: it needs an NVIDIA GPU and `pip install bitsandbytes`"
            + ("" if has_bnb else " (bitsandbytes is not installed)")
        )
    )
    return (
        "QLoRA = LoRA on a base model stored in 4 bits (NF4).  The frozen weights take ~1/8 of their\n"
        "float32 memory; the adapters still train in 16 bits.  A 7B model then fine-tunes on one 24 GB GPU.\n"
        f"Status: {state}.\n"
        "    from transformers import BitsAndBytesConfig\n"
        "    from peft import prepare_model_for_kbit_training\n"
        "    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4',\n"
        "                               bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True)\n"
        "    model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-1.5B-Instruct', quantization_config=quant)\n"
        "    model = prepare_model_for_kbit_training(model)   # then apply_lora(model, LoraSettings(...)) as here"
    )


def peak_rss_mb() -> float:
    """The most memory this Python process has held so far (resident set, MB).

    It only ever grows, so compare two settings in two separate processes
    (`measure_train_memory`), not one after the other in the same kernel."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # Linux reports KB, macOS bytes


def activation_memory_mb(model, batch: dict, gradient_checkpointing: bool = False) -> float:
    """MB of tensors one forward pass keeps for the backward pass (the 'activations').

    Measured with `torch.autograd.graph.saved_tensors_hooks`: every tensor autograd saves is
    counted once (by its storage), the model's own weights excluded.  With gradient
    checkpointing each block keeps (almost) only its input; the rest is recomputed during
    backward.  One forward pass, no backward: cheap, and the same number every run."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen, total = set(), [0]

    def pack(tensor):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            total[0] += storage.nbytes()
        # detached: returning the tensor itself makes a saved output point back to the graph node
        # that saved it, a cycle in C++ that no garbage collector frees (~300 MB leaked per call)
        return tensor.detach()

    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
    was_training = model.training
    if gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()  # checkpointing (and dropout) only act in training mode
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(**inputs, use_cache=False).loss  # no generation cache while training
        del loss
    finally:
        if gradient_checkpointing:
            model.activation_checkpointing_disable()
        model.train(was_training)
    return total[0] / 2**20


def training_memory_table(model, batch: dict, full_model_params: int | None = None):
    """Where training memory goes, LoRA vs full fine-tuning, with and without gradient checkpointing.

    weights: every parameter in float32 (4 bytes); gradients + AdamW state: 4 + 8 bytes per
    *trained* parameter; activations: measured (`activation_memory_mb`).  A PEFT model is
    measured as it is (LoRA); full fine-tuning trains all the base's parameters with the same
    activations (they do not depend on which weights train).  Returns a pandas DataFrame."""
    import pandas as pd

    share = trainable_share(model)
    base_params = full_model_params or (share["total"] - share["trainable"])
    rows = []
    for gc in (False, True):
        act = activation_memory_mb(model, batch, gradient_checkpointing=gc)
        for name, trained in (("LoRA", share["trainable"]), ("full fine-tuning", base_params)):
            weights = share["total"] * 4 / 2**20
            optim = trained * 12 / 2**20
            rows.append(
                {
                    "run": name + (" + gradient checkpointing" if gc else ""),
                    "trained parameters": trained,
                    "weights MB": round(weights, 1),
                    "gradients + AdamW MB": round(optim, 1),
                    "activations MB": round(act, 1),
                    "total MB": round(weights + optim + act, 1),
                }
            )
    return pd.DataFrame(rows)


def measure_train_memory(
    runs,
    model: str = "tiny-qwen2",
    batch_size: int = 4,
    seq_len: int = 128,
    steps: int = 2,
    threads: int | None = None,
    parallel: bool = False,
    timeout: float = 600,
) -> list:
    """Train a few steps on random tokens, each run in a fresh Python process; report memory and speed.

    runs      a list of dicts, each with `mode` ('lora' or 'full'), optional `gradient_checkpointing`
              (bool) and `settings` (LoraSettings), e.g. [{"mode": "lora"}, {"mode": "full"}]
    parallel  start the processes together (faster; step times then disturb each other)
    Returns one dict per run: 'load_rss_mb' (after loading), 'peak_rss_mb', 'train_extra_mb'
    (peak - load), 'step_s' (mean seconds per step after the first), 'step_best_s' (the fastest of
    those steps: on a shared machine other jobs only ever slow a step down), 'trainable', 'total',
    'tokens_per_step'.
    Separate processes, because a process's peak memory never goes down.
    """
    jobs = []
    for run in runs:
        mode = run.get("mode", "lora")
        if mode not in ("lora", "full"):
            raise ConfigError(f"mode must be 'lora' or 'full', got {mode!r}.")
        settings = run.get("settings") or LoraSettings()
        jobs.append(
            {
                "model": model,
                "mode": mode,
                "gc": bool(run.get("gradient_checkpointing", False)),
                "batch_size": batch_size,
                "seq_len": seq_len,
                "steps": steps,
                "settings": settings.to_dict(),
                "threads": threads,
            }
        )
    code = "import json,sys; from ftkit.lora import _probe; print('PROBE', json.dumps(_probe(json.loads(sys.argv[1]))))"
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def start(job):
        return subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )

    results = []
    running = [start(job) for job in jobs] if parallel else []
    for i, job in enumerate(jobs):
        proc = running[i] if parallel else start(job)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise ModelError(
                f"The memory probe ran over {timeout:.0f} s. Use a smaller batch_size or seq_len."
            ) from None
        found = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
        if not found:
            tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(
                f"The memory probe failed ({tail[0][:200]}). Run it by hand to see the full error."
            )
        results.append(json.loads(found[0][6:]))
    return results


def _probe(job: dict) -> dict:
    """The child side of `measure_train_memory` (AdamW steps on random tokens, no data files)."""
    import transformers.utils.logging as hf_logging

    from .infra.presets import load_causal_lm

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    hf_logging.set_verbosity_error()
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        loaded = load_causal_lm(job["model"], seed=0, dtype="float32")
    model = loaded.model
    if job["mode"] == "lora":
        model = apply_lora(model, LoraSettings(**job["settings"]), verbose=False)
    if job["gc"]:  # non-reentrant checkpointing also works when the frozen inputs need no gradient (LoRA)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    load_rss = peak_rss_mb()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    model.train()
    gen = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size if hasattr(model.config, "vocab_size") else loaded.tokenizer.vocab_size
    times = []
    for _ in range(job["steps"]):
        ids = torch.randint(0, vocab, (job["batch_size"], job["seq_len"]), generator=gen)
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    share = trainable_share(model)
    steady = times[1:] or times
    return {
        "load_rss_mb": round(load_rss, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "train_extra_mb": round(peak_rss_mb() - load_rss, 1),
        "step_s": round(sum(steady) / len(steady), 3),
        "step_best_s": round(min(steady), 3),
        "trainable": share["trainable"],
        "total": share["total"],
        "tokens_per_step": job["batch_size"] * job["seq_len"],
    }
