"""Lesson 03 (BERT sentiment): the tools only this lesson uses, on top of `ftkit.textcls`.

    fresh, info = classifier_from_encoder(model, out / "encoder_only", data.id2label)
    table, runs = compare_freezing(make_model, tokenizer, ds, recipe, output_dir=out)
    opt = layerwise_optimizer(model, head_lr=5e-4, encoder_lr=1e-5)   # train_text(..., optimizer=opt)
    set_dropout(model, 0.3); time_padding(model, tokenizer, texts)
    table, runs = compare_peft(make_model, tokenizer, ds, recipe, {"(IA)3": (ia3_settings, 3e-3)}, out, test)
    table = compare_augmentation(make_model, tokenizer, data, small, recipe, {"none": None, ...}, out)

The Trainer recipe itself (`TextRecipe`, `train_text`, `predict_proba`) is core (`ftkit.textcls`),
and LoRA on the classifier is `ftkit.apply_lora(model, LoraSettings(task_type="SEQ_CLS", ...))`.
Importing this module imports transformers (a few seconds); `import ftkit` does not.
"""

from __future__ import annotations

import time

from ..infra.compat import ensure_torchvision

ensure_torchvision()  # transformers imports torchvision when installed (see ftkit/infra/compat.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import DataCollatorWithPadding, TrainerCallback  # noqa: E402

from ..checks import check_fraction, check_int, check_positive  # noqa: E402
from ..errors import ConfigError  # noqa: E402
from ..freeze import freeze, freeze_state, max_depth, param_groups, unfreeze  # noqa: E402
from ..textcls import TextRecipe, train_text  # noqa: E402

__all__ = [
    "classifier_from_encoder",
    "ProgressiveUnfreezing",
    "all_params_optimizer",
    "layerwise_optimizer",
    "freezing_strategies",
    "compare_freezing",
    "compare_peft",
    "compare_augmentation",
    "set_dropout",
    "time_padding",
]


# ---- the seed's start: a base encoder, a new head ---------------------------------------------
def classifier_from_encoder(model, folder, id2label: dict):
    """Save only the pretrained encoder of `model` (no classification head) into `folder`, then load
    it back with AutoModelForSequenceClassification, as the seed article does with a base BERT.

    Returns (model, loading_info): `loading_info["missing_keys"]` lists the weights the
    checkpoint did not have, i.e. the new, randomly initialised classifier.
    """
    from transformers import AutoModelForSequenceClassification

    from ..infra.io import save_pretrained

    save_pretrained(folder, model.base_model, overwrite=True)
    labels = dict(
        num_labels=len(id2label), id2label=dict(id2label), label2id={v: k for k, v in id2label.items()}
    )
    return AutoModelForSequenceClassification.from_pretrained(str(folder), output_loading_info=True, **labels)


# ---- freezing -------------------------------------------------------------------------------
class ProgressiveUnfreezing(TrainerCallback):
    """Start with only the head training; unfreeze `blocks_per_epoch` more blocks (top down)
    at the start of each later epoch (ULMFiT's gradual unfreezing).

    The optimizer must already hold every parameter (frozen ones get no gradient, so AdamW
    skips them): build it with `all_params_optimizer(model, ...)`, because the Trainer's own
    optimizer only takes the parameters that train when it is created.
    """

    def __init__(self, blocks_per_epoch: int = 2, start_depth: int = 0):
        check_int("blocks_per_epoch", blocks_per_epoch, minimum=1)
        check_int("start_depth", start_depth, minimum=0)
        self.blocks_per_epoch = blocks_per_epoch  # 2 of MiniLM's 8 blocks: all train by epoch 5
        self.start_depth = start_depth  # 0: the first epoch trains the head only
        self.schedule: list = []  # (epoch, depth) pairs, for the lesson to print

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        epoch = int(round(state.epoch or 0))
        depth = min(self.start_depth + epoch * self.blocks_per_epoch, max_depth(model))
        freeze(model, depth)
        model.train()  # freeze() puts frozen blocks in eval mode; the Trainer set train mode before
        self.schedule.append((epoch + 1, depth))


def all_params_optimizer(model, lr: float, weight_decay: float = 0.01, **group_kwargs) -> torch.optim.AdamW:
    """AdamW over ALL parameters (frozen ones included), grouped by `param_groups`.

    For progressive unfreezing: parameters unfrozen later are already in the optimizer.
    The model's freeze state is left as it was.
    """
    group_kwargs.setdefault("backbone_lr_mult", 1.0)  # one LR everywhere unless asked otherwise
    was = {id(p): p.requires_grad for p in model.parameters()}
    state = freeze_state(model)
    depth = state.depth if state is not None else None
    unfreeze(model)
    groups = param_groups(model, lr, weight_decay=weight_decay, **group_kwargs)
    for p in model.parameters():
        p.requires_grad_(was[id(p)])
    if depth is not None:
        freeze(model, depth)
    return torch.optim.AdamW(groups, lr=lr)


def layerwise_optimizer(
    model,
    head_lr: float = 5e-4,
    encoder_lr: float = 1e-5,
    layer_decay: float = 1.0,
    weight_decay: float = 0.01,
) -> torch.optim.AdamW:
    """AdamW with a large LR for the new head and a small one for the pretrained encoder.

    `layer_decay` < 1 also shrinks the LR block by block going down (e.g. 0.8).
    Biases and LayerNorm weights get no weight decay. Pass it as `optimizers=(opt, None)`.
    """
    check_positive("head_lr", head_lr, example=5e-4)
    check_positive("encoder_lr", encoder_lr, example=1e-5)
    if encoder_lr > head_lr:
        raise ConfigError(f"encoder_lr ({encoder_lr}) should be positive and at most head_lr ({head_lr}).")
    groups = param_groups(
        model,
        head_lr,
        backbone_lr_mult=encoder_lr / head_lr,
        layer_decay=layer_decay,
        weight_decay=weight_decay,
    )
    return torch.optim.AdamW(groups, lr=head_lr)


def freezing_strategies(model, frozen_layers: int = 3) -> dict:
    """Name -> freeze depth (None = progressive) for the four strategies of the lesson.

    "first k layers frozen" freezes the embeddings and the bottom k encoder layers.
    """
    n = max_depth(model)
    layers = n - 2  # blocks are embeddings, encoder layers..., pooler
    k = min(frozen_layers, layers)
    return {
        "full fine-tuning": n,
        f"first {k} layers frozen": n - 1 - k,
        "head only": 0,
        "progressive unfreezing": None,
    }


def compare_freezing(
    make_model,
    tokenizer,
    ds,
    recipe: TextRecipe,
    output_dir,
    frozen_layers: int = 3,
    head_only_lr: float = 1e-3,
    blocks_per_epoch: int = 2,
):
    """Train one fresh model per freezing strategy with the same recipe; return (table, runs).

    `make_model()` must return a fresh, identically initialised model each time.
    Head-only training uses `head_only_lr` (a lone linear layer needs a larger step).
    The runs keep their histories and metrics, not their models (one model per strategy would
    not fit Binder's 2 GB).
    """
    import pandas as pd

    rows, runs = [], []
    for name, depth in freezing_strategies(make_model(), frozen_layers).items():
        model = make_model()
        optimizer, callbacks, lr = None, [], recipe.learning_rate
        if depth is None:
            progressive = ProgressiveUnfreezing(blocks_per_epoch)
            freeze(model, 0)
            optimizer, callbacks = all_params_optimizer(model, lr, recipe.weight_decay), [progressive]
        else:
            freeze(model, depth)
            lr = head_only_lr if depth == 0 else recipe.learning_rate
        run = train_text(
            model,
            tokenizer,
            ds,
            recipe.replace(learning_rate=lr),
            name,
            f"{output_dir}/{len(runs)}",
            optimizer=optimizer,
            callbacks=callbacks,
            keep_trainer=False,
        )
        row = run.row()
        row["learning_rate"] = lr
        if depth is None:
            row["trainable"] = (
                f"{run.trainable:,} -> {sum(p.numel() for p in model.parameters() if p.requires_grad):,}"
            )
            row["trainable %"] = "grows"
        rows.append(row)
        runs.append(run)
    return pd.DataFrame(rows), runs


# ---- PEFT beyond LoRA -----------------------------------------------------------------------
def compare_peft(make_model, tokenizer, ds, recipe: TextRecipe, methods: dict, output_dir, test, trained=()):
    """Train one fresh model per PEFT method with the same recipe (each at its own learning rate).

    methods: {label: (settings, learning_rate)}, settings from `ftkit.peft_settings`.
    test: the held-out split (a DataFrame with `text` and `label`): its macro F1 is measured too.
    trained: (run, model) pairs already trained (e.g. the LoRA run of the lesson): they join the
    table first. Returns (table, runs); the runs keep their curves, not their models.
    """
    import pandas as pd

    from ..metrics import f1_macro
    from ..peft_methods import apply_peft
    from ..textcls import predict_proba

    if not isinstance(methods, dict) or not methods:
        raise ConfigError(
            "compare_peft takes a dict {label: (settings, learning_rate)}, settings from ftkit.peft_settings."
        )

    def row(run, model, lr):
        pred = predict_proba(model, tokenizer, test["text"]).argmax(axis=1)
        return {
            **run.row(),
            "learning_rate": lr,
            "test_f1_macro": round(f1_macro(pred, np.asarray(test["label"])), 3),
        }

    rows = [row(run, model, run.trainer and run.trainer.args.learning_rate) for run, model in trained]
    runs = [run for run, _ in trained]
    for i, (label, (settings, lr)) in enumerate(methods.items()):
        check_positive("learning_rate", lr, example=1e-3)
        model = apply_peft(make_model(), settings)
        run = train_text(
            model,
            tokenizer,
            ds,
            recipe.replace(learning_rate=lr),
            label,
            f"{output_dir}/{i}",
            keep_trainer=False,
        )
        rows.append(row(run, model, lr))
        runs.append(run)
        del model
    return pd.DataFrame(rows), runs


# ---- regularisation and speed ---------------------------------------------------------------
def set_dropout(model, p: float) -> int:
    """Set the probability of every `nn.Dropout` in the model; returns how many were changed."""
    check_fraction("p", p)
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
            count += 1
    return count


def time_padding(
    model,
    tokenizer,
    texts,
    max_length: int = 512,
    batch_size: int = 16,
    max_batches: int | None = None,
    train_step: bool = True,
) -> dict:
    """Texts per second with dynamic padding vs padding every text to `max_length`.

    `train_step=True` times forward + backward (what fine-tuning pays); gradients are thrown
    away and the weights do not change. Returns both throughputs, the mean padded length of
    each, and their ratio.
    """
    texts = [str(t) for t in texts]
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)][:max_batches]
    if not batches:
        raise ConfigError("time_padding got no texts. Pass a list of strings.")
    collator = DataCollatorWithPadding(tokenizer)
    result = {}
    for mode in ("dynamic", "max_length"):
        if mode == "dynamic":
            encoded = [
                collator([tokenizer(t, truncation=True, max_length=max_length) for t in b]) for b in batches
            ]
        else:
            encoded = [
                tokenizer(
                    b, truncation=True, max_length=max_length, padding="max_length", return_tensors="pt"
                )
                for b in batches
            ]
        model.train(train_step)
        start = time.perf_counter()
        for batch in encoded:
            with torch.set_grad_enabled(train_step):
                logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                if train_step:
                    logits.sum().backward()
        elapsed = time.perf_counter() - start
        model.zero_grad(set_to_none=True)
        n = sum(len(b) for b in batches)
        result[f"{mode}_texts_per_s"] = n / elapsed
        result[f"{mode}_mean_length"] = float(np.mean([b["input_ids"].shape[1] for b in encoded]))
    model.eval()
    result["ratio"] = result["dynamic_texts_per_s"] / result["max_length_texts_per_s"]
    return result


# ---- text augmentation on a small training set --------------------------------------------
def compare_augmentation(
    make_model,
    tokenizer,
    data,
    train,
    recipe: TextRecipe,
    variants: dict,
    output_dir,
    seeds=(0,),
    max_length: int = 128,
):
    """Fine-tune a fresh model on `train` as is and on augmented copies of it; test F1 per seed.

    `variants` maps a name to `ftkit.augment_texts` keyword arguments (method, share, copies),
    or to None for the plain training set.  Every run sees the same number of training texts:
    the plain run trains `recipe.num_train_epochs` epochs, a variant with `copies` extra copies
    of each row that many epochs / (1 + copies), so the gap is the augmentation's, not the
    budget's.  The recipe's seed is replaced by each of `seeds` (data order, dropout, and the
    augmentation's random choices); the model's initial head is `make_model()`'s.
    Returns one row per variant: rows, epochs, the held-out macro F1 for each seed, and their mean.
    """
    import pandas as pd

    from ..data.augment import augment_texts
    from ..data.text import TextData
    from ..metrics import f1_macro
    from ..textcls import predict_proba

    if not seeds:
        raise ConfigError("compare_augmentation needs at least one seed, e.g. seeds=(0, 1).")
    rows = []
    for name, kwargs in variants.items():
        copies = (kwargs or {}).get("copies", 1)
        check_int("copies", copies, minimum=1)
        epochs = max(1, round(recipe.num_train_epochs / (1 + copies))) if kwargs else recipe.num_train_epochs
        row = {"training set": name}
        for seed in seeds:
            frame = augment_texts(train, seed=seed, **kwargs) if kwargs else train
            ds = TextData(frame, data.val, data.test, data.classes).to_hf(tokenizer, max_length=max_length)
            model = make_model()
            train_text(
                model,
                tokenizer,
                ds,
                recipe.replace(num_train_epochs=epochs, seed=seed),
                f"{name} (seed {seed})",
                output_dir,
                keep_trainer=False,
            )
            pred = predict_proba(model, tokenizer, data.test["text"], max_length=max_length).argmax(axis=1)
            row.update({"rows": len(frame), "epochs": epochs})
            row[f"test F1, seed {seed}"] = round(f1_macro(pred, data.test["label"].to_numpy()), 3)
            del model
        row["mean"] = round(float(np.mean([row[f"test F1, seed {s}"] for s in seeds])), 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index("training set")
