"""Supervised fine-tuning (SFT) of a chat model: training, masked loss, perplexity, generation.

    model = ftkit.apply_lora(loaded.model, ftkit.LoraSettings(r=8, lora_alpha=32))
    run = train_sft(model, tok, data.train, data.eval, max_steps=60, callbacks=[LivePlot()])
    print(diagnose(run.history)); compare_answers(base_answers, model, tok, prompts)

`train_sft` wraps the Hugging Face `Trainer`, so its knobs carry `TrainingArguments` names
(learning_rate, max_steps, per_device_train_batch_size, gradient_accumulation_steps, warmup_steps,
...): what you learn here reads the same in any Trainer script.

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
Names from other recipes (transformers 5.23): `TrainingArguments(evaluation_strategy=...)` is
`eval_strategy` (renamed in 4.41, removed in 4.51); `warmup_ratio` is not a `TrainingArguments` name
(pass `warmup_steps`: a float < 1 is a share of the steps); `gradient_checkpointing` is a deprecated
alias of `activation_checkpointing`; `group_by_length=True` is `train_sampling_strategy="group_by_length"`.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field

from .infra.compat import ensure_torchvision

ensure_torchvision()  # transformers (imported below) imports torchvision when installed

import torch  # noqa: E402

from .checks import check_bool, check_choice, check_int, check_positive  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .infra.runtime import oom_guard  # noqa: E402

__all__ = ["SFTRun", "train_sft", "response_loss", "perplexity", "generate", "compare_answers", "prompt_text"]

SAMPLING = ("group_by_length", "random")  # TrainingArguments.train_sampling_strategy values ftkit explains


# =========================================================================================
# Training
# =========================================================================================
@dataclass
class SFTRun:
    """What `train_sft` returns: the curves, the Trainer, and how long it took."""

    label: str  # the run's name (plots and tables)
    history: object  # ftkit.History (train + eval loss, for plot_history and diagnose)
    time_s: float = 0.0  # seconds of training (evaluations included)
    steps: int = 0  # optimizer steps done
    tokens: int = 0  # training tokens seen (padding excluded)
    final_eval_loss: float | None = None  # the last evaluation's loss
    trainer: object = field(repr=False, default=None)  # the transformers Trainer, for anything else


def train_sft(
    model,
    tokenizer,
    train_records,
    eval_records=None,
    max_steps: int = 60,
    learning_rate: float = 2e-4,
    per_device_train_batch_size: int = 4,
    gradient_accumulation_steps: int = 2,
    warmup_steps: float = 0.1,
    max_length: int = 256,
    seed: int = 0,
    callbacks=(),
    eval_steps: int | None = None,
    weight_decay: float = 0.0,
    activation_checkpointing: bool = False,
    train_sampling_strategy: str = "group_by_length",
    label: str = "",
    verbose: bool = True,
    checkpoint_dir=None,
    resume: bool = False,
    trainer_callbacks=(),
) -> SFTRun:
    """Supervised fine-tuning with the HF Trainer, loss on the response tokens only.

    max_steps      optimizer steps (each sees per_device_train_batch_size *
                   gradient_accumulation_steps examples)
    learning_rate  2e-4 is the usual LoRA rate (the seed's); full fine-tuning wants ~10x less
    gradient_accumulation_steps  add up the gradients of several small batches before one
                   optimizer step, i.e. a bigger batch without the memory of one
    warmup_steps   the rate ramps up from 0 over the first steps (no big early jolts): a float
                   < 1 is a share of max_steps (0.1 = the first tenth), an integer a step count
    eval_steps     evaluate every N steps (None: about 4 evaluations in the run)
    activation_checkpointing  keep only each block's input and recompute the rest during the
                   backward pass: much less memory, ~30 % slower (the seed's gradient_checkpointing)
    train_sampling_strategy  "group_by_length" batches examples of similar length together (still
                   shuffled): a batch is padded to its longest example, and padding costs as much
                   compute as real tokens (random batches of 4 alpaca records are ~1/3 padding;
                   grouped, ~1 %); "random" shuffles freely
    callbacks      ftkit callbacks (e.g. LivePlot()) fed through ftkit.hf.HistoryCallback
    checkpoint_dir a resumable checkpoint (adapter, optimizer, schedule, RNG) there every eval_steps;
                   resume=True goes on from its last one (`ftkit train --resume`); the History then
                   holds the steps after the resume. trainer_callbacks: transformers callbacks
    Half precision (bf16) is used on CUDA only; on a CPU everything stays float32.
    """
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from .data.sft_encoding import SFTCollator, build_sft_dataset
    from .hf import HistoryCallback, release_training_memory

    check_int("max_steps", max_steps, minimum=1)
    check_int("per_device_train_batch_size", per_device_train_batch_size, minimum=1)
    check_int("gradient_accumulation_steps", gradient_accumulation_steps, minimum=1)
    check_positive("learning_rate", learning_rate, example=2e-4)
    if learning_rate >= 1:
        raise ConfigError(
            f"learning_rate must be below 1, got {learning_rate!r}. 2e-4 is the usual LoRA rate."
        )
    _check_warmup(warmup_steps)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    if eval_steps is not None:
        check_int("eval_steps", eval_steps, minimum=1)
    check_bool("activation_checkpointing", activation_checkpointing)
    check_choice("train_sampling_strategy", train_sampling_strategy, SAMPLING)
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
    eval_steps = eval_steps or max(1, max_steps // 4)
    cuda = torch.cuda.is_available()
    out = checkpoint_dir or tempfile.mkdtemp(prefix="ftkit-sft-")  # the Trainer wants a folder
    args = TrainingArguments(
        output_dir=out,
        max_steps=max_steps,
        per_device_train_batch_size=per_device_train_batch_size,
        per_device_eval_batch_size=per_device_train_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate,
        lr_scheduler_type="linear",  # warm up, then decay linearly to 0 (the Trainer's default)
        # a share of the steps, rounded (the Trainer rounds up: 30 x 0.1 = 3.0000000000000004 -> 4 steps)
        warmup_steps=round(warmup_steps * max_steps) if isinstance(warmup_steps, float) else warmup_steps,
        weight_decay=weight_decay,
        logging_steps=1,  # a training-loss point per optimizer step for the curves
        train_sampling_strategy=train_sampling_strategy,  # seeded random order of length-sorted chunks
        eval_strategy="steps" if eval_ds is not None else "no",
        eval_steps=eval_steps,
        save_strategy="steps" if checkpoint_dir else "no",  # the adapter: save_adapter, explicitly
        save_steps=eval_steps,
        save_total_limit=1,
        report_to=[],  # no wandb/tensorboard: nothing leaves the machine
        seed=seed,
        data_seed=seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),  # half precision only on a GPU (5x slower on this CPU)
        use_cpu=not cuda,
        dataloader_num_workers=0,  # worker processes cost more than they save on 2 cores
        prediction_loss_only=True,  # never keep eval logits: 49k-word vocab x tokens would fill memory
        activation_checkpointing=activation_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if activation_checkpointing else None,
        disable_tqdm=True,  # the live plot shows progress; a bar per run clutters the notebook
        remove_unused_columns=False,  # our examples are plain dicts the collator reads
    )
    record = HistoryCallback(*callbacks, label=label)
    record.history.config = {  # History.config speaks TrainConfig's names (lr, batch_size) where it can
        "lr": learning_rate,
        "max_steps": max_steps,
        "batch_size": per_device_train_batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "warmup_steps": warmup_steps,
        "max_length": max_length,
        "train_sampling_strategy": train_sampling_strategy,
        "label": label,
    }
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=SFTCollator(tokenizer),
        processing_class=tokenizer,
        callbacks=[record, *trainer_callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; the curves and one line suffice
    start = time.perf_counter()
    try:
        with oom_guard(per_device_train_batch_size, gradient_accumulation_steps):
            trainer.train(resume_from_checkpoint=True if resume else None)
    finally:
        wall = time.perf_counter() - start
        # the optimizer state and gradients go, and freed activations go back to the OS instead of
        # staying with malloc (what lets lesson 04 fit Binder's 2 GB)
        release_training_memory(trainer)
    model.eval()
    last = record.history.last() or {}
    done = trainer.state.global_step
    run = SFTRun(
        label=label,
        history=record.history,
        time_s=wall,
        steps=done,
        tokens=_approx_tokens(train_ds, done * per_device_train_batch_size * gradient_accumulation_steps),
        final_eval_loss=last.get("val_loss"),
        trainer=trainer,
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


def _check_warmup(warmup_steps):
    """TrainingArguments' rule: a share of the steps in [0, 1), or a whole number of steps."""
    ratio = isinstance(warmup_steps, float) and 0 <= warmup_steps < 1
    steps = isinstance(warmup_steps, int) and not isinstance(warmup_steps, bool) and warmup_steps >= 0
    if not (ratio or steps):
        raise ConfigError(
            f"warmup_steps must be a share of the steps in [0, 1) or a whole number of steps, "
            f"got {warmup_steps!r}. Example: warmup_steps=0.1 (the first tenth)."
        )


def _approx_tokens(ds, n_examples: int) -> int:
    """Real (non-padding) tokens in n_examples drawn from ds, from the mean example length."""
    lengths = ds.lengths
    return int(sum(lengths) / len(lengths) * n_examples)


# =========================================================================================
# Evaluation: masked loss, perplexity, generation, answers side by side
# =========================================================================================
@torch.no_grad()
def response_loss(model, tokenizer, records_or_texts, max_length: int = 256, batch_size: int = 8) -> float:
    """Mean negative log-likelihood per token (nats) of the responses, or of whole plain texts.

    records (alpaca dicts or message lists): only the assistant's tokens count, as in training.
    texts (strings): every token after the first counts (general text, to spot forgetting).
    Every token weighs the same (a long response counts more than a short one).
    """
    from .data.sft_encoding import IGNORE_INDEX, SFTCollator, build_sft_dataset

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
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            examples = build_sft_dataset(tokenizer, items, max_length).examples  # no summary line here
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
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT: adapters stay
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
    batch_size: int = 1,
) -> list:
    """Answer each prompt (a user string, an alpaca record or messages) with the chat template.

    temperature=None means greedy decoding: always the most likely next token, so the same
    model gives the same answer every time (what we compare before/after and after reloading).
    temperature > 0 samples (with `top_p`, seeded by `seed`); repetition_penalty > 1 makes
    tokens already written less likely.  batch_size > 1 answers that many prompts per call
    (padded on the left, so every answer starts right after its prompt): ~3x faster on a CPU for
    a dozen short answers; the padding can change the last digits of the scores, so a greedy
    answer may differ from the unbatched one.  Compare answers made with the same batch_size.
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
    if temperature is None:  # greedy; None unsets the model's own sampling defaults
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        options.update(
            do_sample=True, temperature=temperature, top_p=top_p if top_p is not None else 1.0, top_k=None
        )
    if repetition_penalty is not None:
        options["repetition_penalty"] = repetition_penalty
    check_int("batch_size", batch_size, minimum=1)
    texts = [
        tokenizer.apply_chat_template(_prompt_messages(p, system), tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    answers, side = [], tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues each row's last token: no padding after it
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for i in range(0, len(texts), batch_size):
                enc = tokenizer(
                    texts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
                ).to(device)
                out = model.generate(**enc, **options)[:, enc["input_ids"].shape[1] :]
                answers += [a.strip() for a in tokenizer.batch_decode(out, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
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
