"""The freeze-depth x learning-rate lab: a widget panel that only *produces a config*.

    from ftkit.lessons.l02_freeze_lab import freeze_lab
    lab = freeze_lab(loaded, data)        # loaded = ftkit.load_vision(...), data = load_image_folder(...)
    lab                                   # sliders, Train and Sweep buttons, curves, runs table, heatmap
    lab.run()                             # the same as pressing Train (also works headless)
    lab.sweep(depths=[0, 1, 2], lrs=[1e-4, 1e-3, 1e-2])

Three layers, each usable without the one above it (the LLaMA-Factory principle: the UI
never trains anything itself):

1. `LabConfig` - a plain dataclass: freeze depth, learning rate, backbone multiplier,
   epochs, augmentation, seed.  `LabConfig.train_config()` turns it into a `TrainConfig`.
2. Runners (`l02_runners.py`) - `VisionRunner` (ImageData + `ftkit.fit`) and `TextRunner`
   (a BERT-like classifier on TextData, tokenized once, trained by the same `ftkit.fit`).
   A runner gives every run a *fresh model*: the loaded weights, with the run's freeze depth.
3. `FreezeLab` (this file) - the ipywidgets panel.  It reads the widgets into a `LabConfig`,
   hands it to the runner, and shows what comes back (curves, verdict, tables, heatmap).
"""

from __future__ import annotations

import html
import math

import pandas as pd

from ..callbacks import Callback
from ..diagnose import diagnose
from ..errors import ConfigError, FtkitError
from ..freeze import check_depth
from ..history import History
from .l02_runners import LabConfig, Runner, TextRunner, VisionRunner

__all__ = ["LabConfig", "FreezeLab", "freeze_lab", "parse_grid", "run_row"]

LR_RANGE = (1e-5, 1e-1)  # below 1e-5 nothing moves in a few epochs; above 1e-1 Adam diverges
BACKBONE_MULTS = (1.0, 0.3, 0.1, 0.03, 0.01)  # 0.1 is the seed recipe: pretrained layers learn 10x slower
MAX_EPOCHS = 30  # a classroom run should finish while people watch
DEFAULT_SWEEP_LRS = "1e-4, 1e-3, 1e-2"  # three decades: too small, about right, too big for a head
TABLE_FORMATS = {
    "lr": "{:g}",
    "backbone x": "{:g}",
    "trainable": "{:,}",
    "val_accuracy": "{:.3f}",
    "val_loss": "{:.4f}",
    "time_s": "{:.1f}",
}  # 1e-05, not 0.0000; 4,593,154, not 4593154


def parse_grid(text, kind=float, what: str = "values") -> list:
    """'1e-4, 1e-3' -> [0.0001, 0.001]; a list passes through. One-line ConfigError if unreadable."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        items = [t for t in str(text).replace(";", ",").replace(" ", ",").split(",") if t.strip()]
    values = []
    for item in items:
        try:
            number = float(item)
            value = int(number) if kind is int else number
        except (TypeError, ValueError):
            raise ConfigError(
                f"Cannot read {item!r} in the {what} {text!r}. "
                "Write numbers separated by commas, e.g. 1e-4, 1e-3."
            ) from None
        if kind is int and number != int(number):
            raise ConfigError(f"The {what} must be whole numbers, got {item!r}. Write e.g. 0, 1, 2.")
        values.append(value)
    if not values:
        raise ConfigError(
            f"The {what} are empty. Write at least one number, e.g. {'0, 1' if kind is int else '1e-3'}."
        )
    return list(dict.fromkeys(values))  # drop repeats, keep the order


def run_row(number: int, history: History) -> dict:
    """One row of the runs table: the settings and what came out of a run."""
    config = history.config or {}
    kept = history.best() or history.last() or {}
    return {
        "run": number,
        "depth": config.get("depth"),
        "lr": config.get("lr"),
        "backbone x": config.get("backbone_lr_mult"),
        "epochs": config.get("epochs"),
        "augment": config.get("augment"),
        "trainable": config.get("trainable"),
        "val_accuracy": kept.get("val_accuracy"),
        "val_loss": kept.get("val_loss"),
        "kept epoch": kept.get("epoch"),
        "verdict": diagnose(history).verdict,
        "time_s": (history.last() or {}).get("time_s"),
    }


class _EpochView(Callback):
    """Redraws the curves (with the verdict shading) in an Output widget after every epoch."""

    def __init__(self, lab: FreezeLab):
        self.lab = lab

    def on_epoch_end(self, state) -> None:
        self.lab._show_curves(state.history, final=False)
        rec = state.history.last() or {}
        acc = rec.get("val_accuracy")
        acc_text = f", val_accuracy {acc:.3f}" if isinstance(acc, float) and math.isfinite(acc) else ""
        self.lab._say(f"training {state.history.label}: epoch {state.epoch}/{state.config.epochs}{acc_text}")


class FreezeLab:
    """The widget panel.  Attributes: the widgets (`depth`, `lr`, `backbone_lr_mult`, `epochs`,
    `augment`, `train_button`, `sweep_button`, `sweep_depths`, `sweep_lrs`), the display
    areas (`readout`, `message`, `curves`, `runs_area`, `sweep_area`), `.runs` (one History
    per Train press), `.sweep_table` (a DataFrame) and `.runner`.  `run()` and `sweep()` do
    what the buttons do, so notebooks run headless and tests need no browser.
    """

    def __init__(self, runner: Runner, config: LabConfig | None = None, title: str | None = None):
        import ipywidgets as w

        self.runner = runner
        config = config or LabConfig()
        self.runs: list = []
        self.sweep_table: pd.DataFrame | None = None
        self.sweep_histories: list = []
        self.last_error: BaseException | None = None  # the full exception behind a one-line message
        wide = {"description_width": "150px"}
        layout = w.Layout(width="520px")
        self.depth = w.IntSlider(
            value=min(config.depth, runner.max_depth),
            min=0,
            max=runner.max_depth,
            description="freeze depth",
            style=wide,
            layout=layout,
            continuous_update=True,
        )
        self.lr = w.FloatLogSlider(
            value=config.lr,
            base=10,
            min=math.log10(LR_RANGE[0]),
            max=math.log10(LR_RANGE[1]),
            step=0.25,
            description="learning rate",
            readout_format=".1e",
            style=wide,
            layout=layout,
        )
        mults = sorted(set(BACKBONE_MULTS) | {config.backbone_lr_mult}, reverse=True)
        self.backbone_lr_mult = w.Dropdown(
            options=mults,
            value=config.backbone_lr_mult,
            description="backbone lr x",
            style=wide,
            layout=w.Layout(width="300px"),
        )
        self.epochs = w.IntSlider(
            value=config.epochs, min=1, max=MAX_EPOCHS, description="epochs", style=wide, layout=layout
        )
        self.augment = w.Checkbox(
            value=config.augment,
            description="augment training images",
            disabled=not runner.supports_augment,
            indent=False,
        )
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.sweep_button = w.Button(description="Sweep", button_style="info", icon="th")
        self.sweep_depths = w.Text(
            value=", ".join(str(d) for d in range(min(runner.max_depth, 2) + 1)),
            description="sweep depths",
            style=wide,
            layout=w.Layout(width="360px"),
        )
        self.sweep_lrs = w.Text(
            value=DEFAULT_SWEEP_LRS, description="sweep lrs", style=wide, layout=w.Layout(width="360px")
        )
        self.readout = w.HTML()
        self.message = w.HTML()
        self.curves, self.runs_area, self.sweep_area = w.Output(), w.Output(), w.Output()
        self._seed, self._batch_size = config.seed, config.batch_size

        self.depth.observe(self._on_depth, names="value")
        self.train_button.on_click(lambda _: self._guarded(self.run))
        self.sweep_button.on_click(lambda _: self._guarded(self.sweep))
        heading = title or f"Freeze depth x learning rate: {runner.name} ({runner.kind})"
        self.panel = w.VBox(
            [
                w.HTML(f"<h3>{html.escape(heading)}</h3>"),
                self.depth,
                self.readout,
                self.lr,
                w.HBox([self.backbone_lr_mult, self.augment]),
                self.epochs,
                w.HBox([self.train_button, self.sweep_button, self.sweep_depths, self.sweep_lrs]),
                self.message,
                w.HTML("<b>Last run: curves and verdict</b>"),
                self.curves,
                w.HTML("<b>All runs</b>"),
                self.runs_area,
                w.HTML("<b>Sweep: validation accuracy by depth and learning rate</b>"),
                self.sweep_area,
            ]
        )
        # CSS class names: a stable handle for the browser test (and for anyone styling the panel).
        for widget, name in (
            (self.panel, "ftkit-lab"),
            (self.curves, "ftkit-curves"),
            (self.runs_area, "ftkit-runs"),
            (self.sweep_area, "ftkit-sweep"),
            (self.readout, "ftkit-readout"),
            (self.message, "ftkit-message"),
        ):
            widget.add_class(name)
        self._on_depth()

    # ---- widget state -> config ------------------------------------------------------------------
    @property
    def config(self) -> LabConfig:
        """The panel's current settings as a `LabConfig` (raises ConfigError if invalid)."""
        return LabConfig(
            depth=int(self.depth.value),
            lr=float(self.lr.value),
            backbone_lr_mult=float(self.backbone_lr_mult.value),
            epochs=int(self.epochs.value),
            augment=bool(self.augment.value),
            seed=self._seed,
            batch_size=min(self._batch_size, len(self.runner.train_set)),
        )

    def _on_depth(self, change=None) -> None:
        summary = self.runner.summary(int(self.depth.value))
        self.readout.value = f'<div class="ftkit-readout">{summary.to_html()}</div>'

    # ---- actions ---------------------------------------------------------------------------------
    def run(self, config: LabConfig | None = None, **changes) -> History:
        """Train once with the panel's settings, like pressing Train.

        `config` (a LabConfig) and keyword arguments (depth=, lr=, backbone_lr_mult=, epochs=,
        augment=) move the widgets first, so the panel always shows what was trained.
        """
        if config is not None:
            changes = {
                **{k: getattr(config, k) for k in ("depth", "lr", "backbone_lr_mult", "epochs", "augment")},
                **changes,
            }
        self._apply(changes)
        config = self.config
        self.runner.check(config)
        label = f"#{len(self.runs) + 1} {config.label}"
        self._busy(True)
        try:
            self._say(f"training {label} ...")
            history = self.runner.train(config, callbacks=[_EpochView(self)], label=label)
        finally:
            self._busy(False)
        self.runs.append(history)
        self._show_curves(history, final=True)
        self._show_runs()
        kept = history.best() or {}
        self._say(
            f"{label}: {diagnose(history).verdict}, "
            f"val_accuracy {kept.get('val_accuracy', float('nan')):.3f} "
            f"(kept epoch {kept.get('epoch')}), {history.config.get('feature_cache', '')}"
        )
        return history

    def sweep(self, depths=None, lrs=None) -> pd.DataFrame:
        """Train every (depth, lr) pair with the other settings of the panel; show the heatmap."""
        depths = parse_grid(self.sweep_depths.value if depths is None else depths, int, "sweep depths")
        lrs = parse_grid(self.sweep_lrs.value if lrs is None else lrs, float, "sweep learning rates")
        base = self.config
        configs = [LabConfig(**{**base.to_dict(), "depth": d, "lr": lr}) for d in depths for lr in lrs]
        for c in configs:  # every complaint before the first run starts
            self.runner.check(c)
        rows, histories = [], []
        self._busy(True)
        try:
            for i, c in enumerate(configs, 1):  # depth outside, lr inside: the cache serves each depth's lrs
                self._say(f"sweep {i}/{len(configs)}: {c.label} ...")
                history = self.runner.train(c, label=f"sweep {c.label}")
                histories.append(history)
                rows.append({**run_row(i, history), "lr": c.lr, "depth": c.depth})
        finally:
            self._busy(False)
        self.sweep_histories = histories
        self.sweep_table = pd.DataFrame(rows).drop(columns=["run"])
        best = self.best_sweep_config()
        self._show_sweep()
        self._say(
            f"sweep done: {len(configs)} runs; best {best.label} "
            f"(val_accuracy {self.sweep_table['val_accuracy'].max():.3f})"
        )
        return self.sweep_table

    def best_sweep_config(self) -> LabConfig:
        """The sweep's config with the highest validation accuracy (ties: the smaller depth, then lr)."""
        if self.sweep_table is None or self.sweep_table.empty:
            raise ConfigError("No sweep yet: press Sweep (or call lab.sweep()) first.")
        table = self.sweep_table.assign(_acc=self.sweep_table["val_accuracy"].fillna(-1.0))
        best = table.sort_values(["_acc", "depth", "lr"], ascending=[False, True, True], kind="stable").iloc[
            0
        ]
        return LabConfig(**{**self.config.to_dict(), "depth": int(best["depth"]), "lr": float(best["lr"])})

    def table(self) -> pd.DataFrame:
        """The runs table: one row per Train press."""
        return pd.DataFrame([run_row(i, h) for i, h in enumerate(self.runs, 1)])

    def heatmap(self):
        """The sweep as a heatmap of validation accuracy (depth rows x learning-rate columns)."""
        from ..plots import sweep_heatmap

        if self.sweep_table is None:
            raise ConfigError("No sweep yet: press Sweep (or call lab.sweep()) first.")
        return sweep_heatmap(self.sweep_table, x="lr", y="depth", value="val_accuracy")

    # ---- drawing ---------------------------------------------------------------------------------
    def _show_curves(self, history: History, final: bool) -> None:
        from IPython.display import display

        from ..plots import plot_history

        with self.curves:
            self.curves.clear_output(wait=True)
            display(plot_history(history))
            if final:
                display(diagnose(history))

    def _show_runs(self) -> None:
        from IPython.display import display

        from ..plots import compare_runs

        with self.runs_area:
            self.runs_area.clear_output(wait=True)
            display(self.table().style.format(TABLE_FORMATS, na_rep="-").hide(axis="index"))
            if len(self.runs) > 1:
                display(compare_runs(self.runs)[0])

    def _show_sweep(self) -> None:
        from IPython.display import display

        with self.sweep_area:
            self.sweep_area.clear_output(wait=True)
            display(self.heatmap())

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#CC0000" if error else "#333333"
        self.message.value = f'<span class="ftkit-message" style="color:{colour}">{html.escape(text)}</span>'

    def _busy(self, busy: bool) -> None:
        self.train_button.disabled = self.sweep_button.disabled = busy

    def _apply(self, changes: dict) -> None:
        known = {"depth", "lr", "backbone_lr_mult", "epochs", "augment"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"Unknown lab setting(s) {', '.join(unknown)}. Use: {', '.join(sorted(known))}."
            )
        if "depth" in changes:  # before the slider, which would silently clamp a depth out of range
            check_depth(self.runner.model, changes["depth"])
        if "backbone_lr_mult" in changes and changes["backbone_lr_mult"] not in self.backbone_lr_mult.options:
            self.backbone_lr_mult.options = sorted(
                set(self.backbone_lr_mult.options) | {changes["backbone_lr_mult"]}, reverse=True
            )
        for name, value in changes.items():
            getattr(self, name).value = value

    def _guarded(self, action) -> None:
        """Run a button's action; a problem becomes one red line in the panel, not a traceback."""
        try:
            action()
        except FtkitError as err:
            self.last_error = err
            self._say(f"{type(err).__name__}: {err}", error=True)
        except Exception as err:  # noqa: BLE001 - a button must never dump a traceback on a learner
            self.last_error = err
            self._say(
                f"Unexpected {type(err).__name__}: {' '.join(str(err).split())} (details in lab.last_error)",
                error=True,
            )

    # ---- notebook display ------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.panel)

    def __repr__(self) -> str:
        return f"FreezeLab({self.runner.name}, {len(self.runs)} run(s), config={self.config})"


def freeze_lab(
    loaded, data, config: LabConfig | None = None, max_examples: int | None = None, max_length: int = 64
) -> FreezeLab:
    """The panel for a loaded model and its data: images (ImageData) or text (TextData).

    `max_examples` caps each image split (smoke runs); `max_length` caps text tokens.
    """
    if hasattr(data, "train") and isinstance(data.train, pd.DataFrame):
        runner = TextRunner(loaded, data, max_length=max_length)
    else:
        runner = VisionRunner(loaded, data, max_examples=max_examples)
    return FreezeLab(runner, config)
