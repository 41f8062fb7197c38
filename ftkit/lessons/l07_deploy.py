"""Lesson 07's plumbing: the two fine-tuned models it ships, trained in a minute or loaded.

    text = text_model_for_deploy(profile, out / "train_text")          # MiniLM on the sample reviews
    helmet = helmet_model_for_deploy(profile)                           # head of the packaged CNN

Each returns a `Trained` (model, tokenizer or None, data, test metrics, where it came from).
By default both are fine-tuned here, quickly, with the kit's own recipes (lesson 03's Trainer
recipe, lesson 01's stage 1 on cached features), so the lesson runs on its own, offline, on
`data_samples/`. Pass `saved=` to ship what lesson 03 (`.../model` folder) or lesson 01
(`helmet_classifier.safetensors`) saved instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..infra.paths import repo_root, sample_path
from ..metrics import metrics_summary

__all__ = ["SAMPLES", "Trained", "text_model_for_deploy", "helmet_model_for_deploy"]

SAMPLES = repo_root() / "data_samples"  # the kit's own samples, from any working directory


@dataclass
class Trained:
    model: object
    tokenizer: object
    data: object  # ftkit TextData or ImageData
    name: str  # the base model
    source: str  # "trained here (...)" or the saved path
    metrics: dict = field(default_factory=dict)  # test split: accuracy, f1 (go into the manifest)
    time_s: float = 0.0


def _summary(targets, preds) -> dict:
    """The test scores that go into the manifest (ftkit.metrics: the same measures as every lesson)."""
    scores = metrics_summary(targets, preds)
    return {"test_accuracy": scores["accuracy"], "test_f1_macro": scores["f1_macro"]}


def text_model_for_deploy(
    profile,
    output_dir,
    *,
    train_file=None,
    eval_file=None,
    model=None,
    saved=None,
    epochs=None,
    max_rows=None,
    seed: int = 0,
) -> Trained:
    """A fine-tuned sentiment classifier and its data (test split = the split lesson 03 holds out, or
    `eval_file`, e.g. SST-2 dev in the benchmark)."""
    import ftkit

    from .. import textcls as textlab

    start = time.perf_counter()
    train_file = Path(train_file or sample_path("sentiment", "sentiment_en.csv"))
    data = ftkit.load_text_table(
        train_file,
        eval_file=eval_file,
        max_rows=max_rows or profile.max_rows,
        seed=seed,
        split=(0.7, 0.15, 0.15),
    )  # lesson 03's split: the same held-out reviews
    if saved is not None:
        if not Path(saved).is_dir():
            raise ConfigError(
                f"No saved text model folder at {str(saved)!r}. Run lesson 03 first "
                "(it saves OUTPUT_DIR/model) or leave it as None to train here."
            )
        loaded = ftkit.load_text_classifier(
            str(saved), num_labels=data.num_labels, id2label=data.id2label, profile=profile, seed=seed
        )
        source = f"saved: {saved}"
    else:
        loaded = ftkit.load_text_classifier(
            textlab.text_model_for(data.train["text"], profile, model),
            num_labels=data.num_labels,
            id2label=data.id2label,
            profile=profile,
            seed=seed,
        )
        smoke = profile.name == "smoke"
        recipe = textlab.TextRecipe(  # lesson 03's learning rate for MiniLM
            num_train_epochs=epochs or (1 if smoke else 3), learning_rate=1e-4, seed=seed
        )
        ds = data.to_hf(loaded.tokenizer, max_length=128)
        textlab.train_text(
            loaded.model, loaded.tokenizer, ds, recipe, "deploy", Path(output_dir), keep_trainer=False
        )
        source = f"trained here ({recipe.num_train_epochs} epochs on {len(data.train)} reviews)"
    probs = textlab.predict_proba(loaded.model, loaded.tokenizer, data.test["text"])
    loaded.model.eval()
    return Trained(
        loaded.model,
        loaded.tokenizer,
        data,
        loaded.name,
        source,
        _summary(data.test["label"].to_numpy(), probs.argmax(1)),
        time.perf_counter() - start,
    )


def helmet_model_for_deploy(
    profile, *, data_dir=None, model=None, saved=None, epochs=None, image_size=None, seed: int = 0
) -> Trained:
    """A helmet / no_helmet CNN: lesson 01's stage 1 (new head on frozen features), or its saved file."""
    import ftkit
    from ftkit.freeze import freeze

    start = time.perf_counter()
    data_dir = Path(data_dir or sample_path("helmet"))
    image_size = image_size or profile.image_size
    data = ftkit.load_image_folder(data_dir, image_size=image_size, seed=seed)
    if data.test is None:
        raise ConfigError(
            f"{data_dir} has no test split. Use a folder with train/val/test (like data_samples/helmet)."
        )
    if saved is not None:
        loaded = ftkit.load_vision(Path(saved), num_classes=len(data.classes), profile=profile, seed=seed)
        source = f"saved: {saved}"
    else:
        loaded = ftkit.load_vision(model, num_classes=len(data.classes), profile=profile, seed=seed)
        freeze(loaded.model, depth=0)
        config = ftkit.TrainConfig(
            lr=1e-3,
            optimizer="adam",
            epochs=epochs or (2 if profile.name == "smoke" else 10),
            batch_size=profile.batch_size,
            seed=seed,
        )  # lesson 01's stage 1 recipe
        ftkit.fit(loaded.model, data.train, data.val, config, progress=False)
        source = f"trained here (head only, {config.epochs} epochs on {len(data.train)} images)"
    loaded.model.eval()
    _, preds, targets = ftkit.predict(loaded.model, data.test)
    return Trained(
        loaded.model,
        None,
        data,
        loaded.name,
        source,
        _summary(np.asarray(targets), preds),
        time.perf_counter() - start,
    )
