"""Run a checked recipe headless: `ftkit train CONFIG.yaml` (see configs/README.md).

One process, or data-parallel under `accelerate launch -m ftkit train ...` / `torchrun -m ftkit ...`:
- helmet: lesson 01's two stages on `fit_accelerate` (ftkit/recipes/ddp_fit.py);
- text / sft: `ftkit.train_text` / `ftkit.train_sft`, whose HF Trainer runs on Accelerate itself
  (it reads the same launcher environment: ranks, gloo/nccl, data sharding, gradient averaging).
Only the main process writes: OUTPUT_DIR/results.json (+ history.json) and the model, atomically.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import DataError
from ..infra.paths import repo_root
from .config import Recipe

__all__ = ["run_recipe", "world"]


def world() -> tuple[int, int]:
    """(rank, number of processes) from the launcher's environment (1 process when not launched)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def run_recipe(recipe: Recipe, output_dir, resume: bool = False) -> dict:
    """Train the recipe, write results.json into `output_dir`; returns the results dict (every process)."""
    import torch

    from ..infra.runtime import get_profile

    out = Path(output_dir)
    profile = get_profile(recipe.profile)
    if profile.name == "smoke":
        torch.set_num_threads(1)  # tiny models: threads cost more in hand-offs than they save
    start = time.perf_counter()
    runner = {"helmet": _helmet, "text": _text, "sft": _sft}[recipe.kind]
    model_name, metrics, histories, save = runner(recipe, profile, out, resume)
    rank, n_proc = world()
    results = {"metrics": metrics, "histories": [h.to_dict() for h in histories], "processes": n_proc}
    if rank == 0:
        from ..infra.results import write_results

        save()
        write_results(
            out,
            lesson=f"train_{recipe.kind}",
            model=model_name,
            profile=profile.name,
            wall_s=time.perf_counter() - start,
            metrics=metrics,
            processes=n_proc,
            config=recipe.to_dict(),
            histories=results["histories"],
        )
        print(f"results: {out / 'results.json'}", flush=True)
    return results


def _path(value, what: str) -> Path:
    """A data path as written in a config: absolute, relative to the working directory, or to the kit."""
    p = Path(value)
    for candidate in (p, repo_root() / p):
        if candidate.exists():
            return candidate
    raise DataError(
        f"{what} {str(value)!r} not found (looked in . and {repo_root()}). Fix data.* in the config."
    )


# ---- lesson 01: helmet, two stages -------------------------------------------------------------------
def _helmet(recipe: Recipe, profile, out: Path, resume: bool):
    from accelerate import Accelerator, DataLoaderConfiguration

    from .. import evaluate, load_image_folder, load_vision
    from ..infra.io import save_weights
    from .ddp_fit import fit_accelerate

    data_cfg, seed = recipe.sections["data"], recipe.seed
    image_size = data_cfg["image_size"] or profile.image_size
    data = load_image_folder(_path(data_cfg["dir"], "data.dir"), image_size=image_size, seed=seed)
    loaded = load_vision(recipe.sections["model"]["name"], len(data.classes), profile=profile, seed=seed)
    # split_batches: every process draws the same global batch and keeps its share (ddp_fit.py)
    accelerator = Accelerator(
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        cpu=os.environ.get("ACCELERATE_USE_CPU") == "true",
    )
    model, histories = loaded.model, []
    for stage in ("head", "finetune"):
        config = recipe.configs[stage]
        ckpt = out / "checkpoints" / f"{stage}.pt"
        histories.append(
            fit_accelerate(
                accelerator, model, data.train, data.val, config, checkpoint=ckpt, resume=resume, label=stage
            )
        )
    model = accelerator.unwrap_model(model)
    test = evaluate(model, data.test, metrics=("accuracy", "f1_macro"), device="cpu" if not _cuda() else None)
    metrics = {
        "test_accuracy": test["accuracy"],
        "test_f1_macro": test["f1_macro"],
        "test_loss": test["loss"],
        "val_loss": histories[-1].epochs[-1].get("val_loss"),
    }

    def save():
        meta = {"classes": data.classes, "image_size": image_size, "base_model": loaded.name}
        save_weights(model, out / "model.safetensors", overwrite=True, metadata=meta)

    return loaded.name, metrics, histories, save


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ---- lesson 03: text classification on the Trainer ---------------------------------------------------
def _text(recipe: Recipe, profile, out: Path, resume: bool):
    from .. import load_text_classifier, load_text_table, text_model_for, train_text
    from ..infra.io import save_pretrained

    d, seed = recipe.sections["data"], recipe.seed
    data = load_text_table(
        _path(d["train_file"], "data.train_file"),
        eval_file=_path(d["eval_file"], "data.eval_file") if d["eval_file"] else None,
        text_col=d["text_col"],
        label_col=d["label_col"],
        max_rows=d["max_rows"] or profile.max_rows,
        seed=seed,
        split=(0.7, 0.15, 0.15),
    )
    name = text_model_for(data.train["text"], profile, recipe.sections["model"]["name"])
    loaded = load_text_classifier(name, data.num_labels, id2label=data.id2label, profile=profile, seed=seed)
    ds = data.to_hf(loaded.tokenizer, max_length=d["max_length"] or 128)
    ckpts = out / "checkpoints"
    run = train_text(
        loaded.model,
        loaded.tokenizer,
        ds,
        recipe.configs["train"],
        "text",
        ckpts,
        keep_trainer=False,
        # a resumable checkpoint (optimizer, schedule, RNG) after every epoch
        args_overrides={"save_strategy": "epoch", "save_only_model": False, "save_total_limit": 1},
        callbacks=[_kill_hook("text")],
        resume=_resuming(ckpts, resume),
    )
    metrics = {k.replace("eval_", "val_"): v for k, v in run.metrics.items() if isinstance(v, (int, float))}

    def save():
        save_pretrained(out / "model", loaded.model, loaded.tokenizer, overwrite=True)

    return loaded.name, metrics, [run.history], save


# ---- lesson 04: LoRA SFT on the Trainer --------------------------------------------------------------
def _sft(recipe: Recipe, profile, out: Path, resume: bool):
    from .. import apply_lora, load_causal_lm, load_instructions, save_adapter, train_sft

    d, seed = recipe.sections["data"], recipe.seed
    data = load_instructions(
        _path(d["file"], "data.file"),
        max_records=d["max_records"] or profile.max_records,
        seed=seed,
        eval_fraction=d["eval_fraction"] if d["eval_fraction"] is not None else 0.15,
    )
    loaded = load_causal_lm(recipe.sections["model"]["name"] or profile.lm_model, profile=profile, seed=seed)
    model = apply_lora(loaded.model, recipe.configs["lora"], verbose=False)
    args = dict(recipe.configs["train"])
    if d["max_length"]:
        args["max_length"] = d["max_length"]
    ckpts = out / "checkpoints"
    run = train_sft(
        model,
        loaded.tokenizer,
        data.train,
        data.eval,
        seed=seed,
        label="sft",
        verbose=False,
        checkpoint_dir=ckpts,  # every eval_steps
        resume=_resuming(ckpts, resume),
        trainer_callbacks=[_kill_hook("sft")],
        **args,
    )
    metrics = {"final_eval_loss": run.final_eval_loss, "steps": run.steps, "tokens": run.tokens}

    def save():
        save_adapter(model, out / "adapter", overwrite=True)

    return loaded.name, metrics, [run.history], save


# ---- resuming the Trainer recipes -----------------------------------------------------------------------
def _resuming(ckpts: Path, resume: bool) -> bool:
    """--resume with a checkpoint-N folder in `ckpts`: the Trainer goes on from the last one."""
    found = sorted(ckpts.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if resume else []
    if found and world()[0] == 0:
        print(f"resumed from {found[-1].name}", flush=True)
    return bool(found)


def _kill_hook(label: str):
    """Tests: FTKIT_TEST_KILL_AFTER="text:1" ends the process (os._exit) right after the 1st checkpoint."""
    from transformers import TrainerCallback

    from .ddp_fit import KILL_ENV

    class KillAfterSave(TrainerCallback):
        saves = 0

        def on_save(self, args, state, control, **kwargs):
            self.saves += 1
            if os.environ.get(KILL_ENV) == f"{label}:{self.saves}":
                os._exit(17)  # a stand-in for a killed run: no clean-up at all

    return KillAfterSave()
