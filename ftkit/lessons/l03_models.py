"""Lesson 03, choosing a model: what a tokenizer makes of your language, measured.

    table = vocabulary_table({"minilm-l6": loaded, "smollm2": lm}, {"English": en, "Chinese": zh})

For each model and each list of texts: its architecture (encoder, decoder or encoder-decoder,
read from the config), its parameter count and vocabulary size, how many tokens it needs per
character, the share of `[UNK]` tokens (text the model cannot see at all) and the share of
byte-fragment tokens (a byte-level tokenizer has no [UNK]: it spells unknown characters as
UTF-8 bytes, pieces that are not characters on their own).
"""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError

__all__ = ["architecture", "tokenizer_coverage", "vocabulary_table"]


def architecture(model) -> str:
    """'encoder-decoder', 'decoder' or 'encoder', from the model's config and class."""
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    if getattr(config, "is_decoder", False) or type(model).__name__.endswith("ForCausalLM"):
        return "decoder"
    return "encoder"


def tokenizer_coverage(tokenizer, texts) -> dict:
    """Tokens per character, [UNK] share and byte-fragment share of `tokenizer` on `texts`."""
    texts = [str(t) for t in texts]
    if not texts:
        raise ConfigError("tokenizer_coverage needs at least one text.")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    flat = [i for row in ids for i in row]
    unk = tokenizer.unk_token_id
    # a piece that decodes to the replacement character is part of a character, not a character
    fragments = {i for i in set(flat) if "\ufffd" in tokenizer.decode([i])}
    n = max(len(flat), 1)
    return {
        "tokens per character": round(len(flat) / sum(len(t) for t in texts), 2),
        "[UNK] share": round(sum(i == unk for i in flat) / n, 3) if unk is not None else 0.0,
        "byte-fragment share": round(sum(i in fragments for i in flat) / n, 3),
    }


def vocabulary_table(models: dict, texts: dict) -> pd.DataFrame:
    """One row per (model, language): architecture, size, vocabulary and `tokenizer_coverage`.

    `models` maps a name to a `Loaded` (what ftkit.load_* return) or a (model, tokenizer) pair;
    `texts` maps a language name to a list of texts.
    """
    rows = []
    for name, item in models.items():
        model, tokenizer = (item.model, item.tokenizer) if hasattr(item, "model") else item
        if tokenizer is None:
            raise ConfigError(f"{name}: vocabulary_table needs a tokenizer, got None.")
        facts = {
            "model": name,
            "architecture": architecture(model),
            "parameters (M)": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            "vocabulary": len(tokenizer),
        }
        for language, sample in texts.items():
            rows.append({**facts, "language": language, **tokenizer_coverage(tokenizer, sample)})
    return pd.DataFrame(rows)


# ---- domain-adaptive continued pretraining (seed 002, 7.3) -----------------------------------
def continue_pretraining(
    model,
    tokenizer,
    texts,
    eval_texts,
    output_dir,
    max_steps: int = 40,
    learning_rate: float = 1e-4,
    mlm_probability: float = 0.15,
    seed: int = 0,
    batch_size: int = 16,
) -> tuple:
    """Masked-language-model training of `model`'s encoder on unlabelled `texts`; returns (model, info).

    `model` is a BERT-style classifier: its encoder is copied into `AutoModelForMaskedLM` (a new
    MLM head when the checkpoint has none), trained `max_steps` steps with the Trainer and
    `DataCollatorForLanguageModeling` (15 % of the tokens masked, BERT's rule), then copied back,
    so the classifier head and pooler are unchanged.  `info` holds the masked-word loss on
    `eval_texts` before and after (same masks both times), the steps and the wall time.
    """
    import time

    from datasets import Dataset
    from transformers import (
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from ..checks import check_fraction, check_int
    from ..infra.loaders import seeded

    check_int("max_steps", max_steps, minimum=1)
    check_fraction("mlm_probability", mlm_probability, example=0.15)
    if tokenizer.mask_token is None:
        raise ConfigError("continue_pretraining needs a tokenizer with a mask token (a BERT-style encoder).")
    with seeded(seed):
        mlm = AutoModelForMaskedLM.from_config(model.config)
    mlm.base_model.load_state_dict(model.base_model.state_dict(), strict=False)  # no pooler in an MLM
    mlm.tie_weights()  # the output layer shares the (pretrained) word embeddings

    def tokenized(items):
        ds = Dataset.from_dict({"text": [str(t) for t in items]})
        return ds.map(
            lambda b: tokenizer(b["text"], truncation=True, max_length=128),
            batched=True,
            remove_columns=["text"],
        )

    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        warmup_steps=0.1,
        weight_decay=0.01,
        save_strategy="no",
        logging_steps=max(1, max_steps // 4),
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=False,
    )
    # masks drawn from torch's global generator: seeded by the Trainer, and by `seeded` below
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)
    trainer = Trainer(
        model=mlm,
        args=args,
        train_dataset=tokenized(texts),
        eval_dataset=tokenized(eval_texts),
        data_collator=collator,
    )
    trainer.remove_callback(PrinterCallback)

    def masked_loss():
        with seeded(seed):  # the same masks before and after
            return round(trainer.evaluate()["eval_loss"], 3)

    before = masked_loss()
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    after = masked_loss()
    model.base_model.load_state_dict(mlm.base_model.state_dict(), strict=False)
    info = {
        "steps": max_steps,
        "masked-word loss before": before,
        "after": after,
        "time_s": round(elapsed, 1),
    }
    return model, info
