"""A widget panel for trying LoRA settings by hand: knobs, a Train button, live curves, a prompt box.

    panel = LoraPanel(lambda: ftkit.load_causal_lm(MODEL, profile=PROFILE), data.train, data.eval)
    panel            # shows the panel in a notebook

The panel only *reads* the widgets into a `LoraSettings` and a training config
(`panel.settings()`, `panel.train_config()`); the training itself is `ftkit.lora.train_sft`,
exactly as in the lesson's cells.  Every Train click starts from a freshly loaded base model
(PEFT changes the model it wraps), so runs never build on each other.
"""

from __future__ import annotations

from ..errors import FtkitError
from ..lora import TARGET_PRESETS, LoraSettings, apply_lora, compare_answers, train_sft

__all__ = ["LoraPanel"]


class LoraPanel:
    """LoRA rank, alpha, target modules, learning rate and steps -> Train -> compare answers."""

    def __init__(
        self,
        load_base,
        train_records,
        eval_records=None,
        steps: int = 30,
        lr: float = 2e-4,
        batch_size: int = 2,
        grad_accum: int = 2,
        max_length: int = 256,
        seed: int = 0,
        max_new_tokens: int = 60,
    ):
        import ipywidgets as w

        self.load_base = load_base  # a function returning a fresh ftkit Loaded (model + tokenizer)
        self.train_records, self.eval_records = train_records, eval_records
        # lesson 04's batch (2 x 2 accumulation); on ~2 GB (Binder) pass batch_size=1, grad_accum=4
        self.fixed = dict(batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, seed=seed)
        self.max_new_tokens = max_new_tokens  # answers in the compare table: a safety note fits in ~50 tokens
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
            value=lr,
            base=10,
            min=-5,
            max=-2,
            step=0.25,
            readout_format=".0e",
            description="learning rate",
            style=style,
        )
        self.steps = w.IntSlider(value=steps, min=1, max=300, description="steps", style=style)
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
        """Keyword arguments for `train_sft` (steps and lr from the widgets, the rest fixed)."""
        return dict(steps=int(self.steps.value), lr=float(self.lr.value), **self.fixed)

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
            f"lr={config['lr']:.0e}, {config['steps']} steps..."
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
            self.status.value = (
                f"Done in {self.run.wall_s:.0f} s"
                + (f", eval loss {loss:.3f}" if loss is not None else "")
                + ". Type a prompt below and compare."
            )
        except FtkitError as err:
            self.status.value = f"<b>Stopped:</b> {err}"
        finally:
            self.train_button.disabled = False
            self.compare_button.disabled = self.model is None
        return self.run

    def compare(self):
        """Greedy answers of the base (adapters switched off) and the tuned model to the prompt."""
        from IPython.display import display

        text = self.prompt.value.strip() or self.prompt.placeholder
        self.answers.clear_output()
        if self.model is None:
            return None
        with self.model.disable_adapter():  # the same weights without the LoRA update = the base model
            from ..lora import generate

            base = generate(self.model, self.tokenizer, [text], max_new_tokens=self.max_new_tokens)
        table = compare_answers(base, self.model, self.tokenizer, [text], max_new_tokens=self.max_new_tokens)
        with self.answers:
            display(table.style.set_properties(**{"white-space": "pre-wrap", "text-align": "left"}))
        return table

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
