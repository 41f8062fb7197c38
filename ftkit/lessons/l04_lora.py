"""Lesson 04's own tools: a widget panel for trying LoRA settings by hand, and the memory lab.

    panel = LoraPanel(lambda: ftkit.load_causal_lm(MODEL, profile=PROFILE), data.train, data.eval)
    panel            # shows the panel in a notebook
    training_memory_table(model, batch)      # weights, gradients + AdamW, activations: LoRA vs full
    measure_train_memory([{"mode": "lora"}, {"mode": "full"}])   # the same, measured in fresh processes
    print(qlora_note())

The panel only *reads* the widgets into a `LoraSettings` and keyword arguments for `train_sft`
(`panel.settings()`, `panel.train_config()`); the training itself is `ftkit.train_sft`, exactly
as in the lesson's cells.  Every Train click starts from a freshly loaded base model (PEFT
changes the model it wraps), so runs never build on each other.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from ..errors import ConfigError, FtkitError, ModelError
from ..gen_eval import format_ok, text_language
from ..infra.runtime import saved_tensors_mb
from ..lora import TARGET_PRESETS, LoraSettings, apply_lora, trainable_share
from ..sft import compare_answers, generate, train_sft

__all__ = [
    "LoraPanel",
    "qlora_note",
    "peak_rss_mb",
    "activation_memory_mb",
    "training_memory_table",
    "measure_train_memory",
]


class LoraPanel:
    """LoRA rank, alpha, target modules, learning rate and steps -> Train -> compare answers."""

    def __init__(
        self,
        load_base,
        train_records,
        eval_records=None,
        max_steps: int = 30,
        learning_rate: float = 2e-4,
        per_device_train_batch_size: int = 2,
        gradient_accumulation_steps: int = 2,
        max_length: int = 256,
        seed: int = 0,
        max_new_tokens: int = 60,
        format_prompts: int = 8,
    ):
        import ipywidgets as w

        self.load_base = load_base  # a function returning a fresh ftkit Loaded (model + tokenizer)
        self.train_records, self.eval_records = train_records, eval_records
        # lesson 04's batch (2 x 2 accumulation); on ~2 GB (Binder) pass 1 x 4
        self.fixed = dict(
            per_device_train_batch_size=per_device_train_batch_size,
            gradient_accumulation_steps=gradient_accumulation_steps,
            max_length=max_length,
            seed=seed,
        )
        self.max_new_tokens = max_new_tokens  # answers in the compare table: a safety note fits in ~50 tokens
        # held-out prompts answered after each run for its format_ok: 8 batched answers take ~10 s here
        self.format_prompts = format_prompts
        self.format_ok = None  # the last run's share of held-out answers in the safety-note format
        self.model = self.tokenizer = self.run = None  # filled by the last Train click
        style = {"description_width": "110px"}
        self.rank = w.Dropdown(
            options=[1, 2, 4, 8, 16, 32, 64], value=8, description="LoRA rank r", style=style
        )
        self.alpha = w.FloatText(value=32, description="lora_alpha", style=style)
        self.targets = w.Dropdown(
            options=list(TARGET_PRESETS), value="attention q,v", description="target modules", style=style
        )
        self.lr = w.FloatLogSlider(
            value=learning_rate,
            base=10,
            min=-5,
            max=-2,
            step=0.25,
            readout_format=".0e",
            description="learning rate",
            style=style,
        )
        self.steps = w.IntSlider(value=max_steps, min=1, max=300, description="steps", style=style)
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.status = w.HTML("Pick settings and press Train.")
        self.curves = w.Output()
        self.prompt = w.Textarea(
            placeholder="Write a safety note for this site observation.\n\nA forklift is parked on a ramp.",
            layout=w.Layout(width="95%", height="70px"),
        )
        self.compare_button = w.Button(description="Compare base vs tuned", disabled=True)
        self.answers = w.Output()
        self.train_button.on_click(lambda _: self.train())
        self.compare_button.on_click(lambda _: self.compare())
        self.widget = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox([self.rank, self.alpha, self.targets]),
                        w.VBox([self.lr, self.steps, self.train_button]),
                    ]
                ),
                self.status,
                self.curves,
                self.prompt,
                self.compare_button,
                self.answers,
            ]
        )

    # ---- what the widgets say -------------------------------------------------------------
    def settings(self) -> LoraSettings:
        """The widgets as LoraSettings (raises ConfigError on a bad value)."""
        return LoraSettings(
            r=int(self.rank.value),
            lora_alpha=float(self.alpha.value),
            target_modules=self.targets.value,
            seed=self.fixed["seed"],
        )

    def train_config(self) -> dict:
        """Keyword arguments for `train_sft`: max_steps and learning_rate from the widgets, the rest fixed."""
        return dict(max_steps=int(self.steps.value), learning_rate=float(self.lr.value), **self.fixed)

    # ---- actions --------------------------------------------------------------------------
    def train(self):
        """Load a fresh base, add LoRA with the widget settings, train with live curves."""
        from ..plots import LivePlot

        self.curves.clear_output()
        try:
            settings, config = self.settings(), self.train_config()
        except FtkitError as err:
            self.status.value = f"<b>Not started:</b> {err}"
            return None
        self.train_button.disabled = self.compare_button.disabled = True
        self.status.value = (
            f"Training: r={settings.r}, alpha={settings.lora_alpha:g}, {settings.target_modules}, "
            f"learning_rate={config['learning_rate']:.0e}, {config['max_steps']} steps..."
        )
        try:
            with self.curves:
                loaded = self.load_base()
                self.model = apply_lora(loaded.model, settings)
                self.tokenizer = loaded.tokenizer
                self.run = train_sft(
                    self.model,
                    self.tokenizer,
                    self.train_records,
                    self.eval_records,
                    callbacks=[LivePlot()],
                    **config,
                )
            loss = self.run.final_eval_loss
            self.format_ok = self.check_format()
            self.status.value = (
                f"Done in {self.run.time_s:.0f} s"
                + (f", eval loss {loss:.3f}" if loss is not None else "")
                + (f", format_ok {self.format_ok:.2f}" if self.format_ok is not None else "")
                + ". Type a prompt below and compare."
            )
        except FtkitError as err:
            self.status.value = f"<b>Stopped:</b> {err}"
        finally:
            self.train_button.disabled = False
            self.compare_button.disabled = self.model is None
        return self.run

    def check_format(self):
        """format_ok of the tuned model on the first `format_prompts` held-out records (None: none)."""
        records = list(self.eval_records or [])[: self.format_prompts]
        # message lists (ftkit.load_instructions) or alpaca records; token ids have no reference text
        refs = [r[-1]["content"] if isinstance(r, list) else (r or {}).get("output") for r in records]
        if not records or not all(isinstance(ref, str) for ref in refs):
            return None
        answers = generate(
            self.model, self.tokenizer, records, max_new_tokens=self.max_new_tokens, batch_size=len(records)
        )
        return format_ok(answers, text_language(refs[0]))

    def compare(self):
        """Greedy answers of the base (adapters switched off) and the tuned model to the prompt."""
        from IPython.display import display

        text = self.prompt.value.strip() or self.prompt.placeholder
        self.answers.clear_output()
        if self.model is None:
            return None
        with self.model.disable_adapter():  # the same weights without the LoRA update = the base model
            base = generate(self.model, self.tokenizer, [text], max_new_tokens=self.max_new_tokens)
        table = compare_answers(base, self.model, self.tokenizer, [text], max_new_tokens=self.max_new_tokens)
        with self.answers:
            display(table.style.set_properties(**{"white-space": "pre-wrap", "text-align": "left"}))
        return table

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# =========================================================================================
# The memory lab: QLoRA, where training memory goes, measurements
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
        "                               bnb_4bit_compute_dtype=torch.bfloat16,\n"
        "                               bnb_4bit_use_double_quant=True)\n"
        "    model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-1.5B-Instruct',\n"
        "                                                 quantization_config=quant)\n"
        "    model = prepare_model_for_kbit_training(model)\n"
        "    model = apply_lora(model, LoraSettings(...))   # then as here"
    )


def peak_rss_mb() -> float:
    """The most memory this Python process has held so far (resident set, MB).

    It only ever grows, so compare two settings in two separate processes
    (`measure_train_memory`), not one after the other in the same kernel."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # Linux reports KB, macOS bytes


def activation_memory_mb(model, batch: dict, activation_checkpointing: bool = False) -> float:
    """MB of tensors one forward pass keeps for the backward pass (the 'activations').

    Measured with `torch.autograd.graph.saved_tensors_hooks`: every tensor autograd saves is
    counted once (by its storage), the model's own weights excluded.  With activation
    (gradient) checkpointing each block keeps (almost) only its input; the rest is recomputed during
    backward.  One forward pass, no backward: cheap, and the same number every run."""
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
    was_training = model.training
    if activation_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()  # checkpointing (and dropout) only act in training mode
    try:
        # no generation cache while training
        return saved_tensors_mb(model, lambda: model(**inputs, use_cache=False).loss)
    finally:
        if activation_checkpointing:
            model.activation_checkpointing_disable()
        model.train(was_training)


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
        act = activation_memory_mb(model, batch, activation_checkpointing=gc)
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

    runs      a list of dicts, each with `mode` ('lora' or 'full'), optional `activation_checkpointing`
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
                "gc": bool(run.get("activation_checkpointing", False)),
                "batch_size": batch_size,
                "seq_len": seq_len,
                "steps": steps,
                "settings": settings.to_dict(),
                "threads": threads,
            }
        )
    code = (
        "import json, sys; from ftkit.lessons.l04_lora import _probe; "
        "print('PROBE', json.dumps(_probe(json.loads(sys.argv[1]))))"
    )
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds ftkit/
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

    from ..infra.presets import load_causal_lm

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
