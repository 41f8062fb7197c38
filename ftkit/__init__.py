"""ftkit: a small kit for learning to fine-tune pretrained models in Jupyter.

    import ftkit
    data   = ftkit.load_image_folder("../data_samples/helmet")
    loaded = ftkit.load_vision("resnet18", num_classes=len(data.classes))
    ftkit.freeze(loaded.model, depth=0)                      # only the new head trains
    history = ftkit.fit(loaded.model, data.train, data.val, ftkit.TrainConfig(lr=1e-3))
    ftkit.plot_history(history); print(ftkit.diagnose(history))

Names are loaded lazily: `import ftkit` is instant and has no side effects; the module
behind a name (and torch / transformers) is imported the first time you use that name.
The table below is the whole public API; each module is a short file worth reading.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

__version__ = "0.1.0"

_API = {
    "errors": ["FtkitError", "DataError", "ConfigError", "ModelError", "SaveError", "TrainingDiverged"],
    "infra.runtime": [
        "get_profile",
        "seed_everything",
        "pick_device",
        "PROFILES",
        "Profile",
        "free_memory",
        "memory_advice",
    ],
    "history": ["History"],
    "callbacks": ["Callback"],
    "config": ["TrainConfig"],
    "infra.presets": [
        "load_vision",
        "load_text_classifier",
        "load_causal_lm",
        "list_presets",
        "register_preset",
        "preset_availability",
        "Loaded",
        "PRESETS",
    ],
    "infra.preset_table": ["Preset"],
    "infra.gguf": ["cache_dir"],
    "infra.paths": ["sample_path"],
    "data.images": ["load_image_folder", "load_images_for_prediction"],
    "data.image_display": ["show_samples", "preview_augmentations"],
    "data.text": ["load_text_table", "make_imbalanced", "class_weights"],
    "data.instructions": [
        "load_instructions",
        "to_messages",
        "encode_for_sft",
        "build_sft_dataset",
        "SFTCollator",
        "show_masking",
    ],
    "freeze": [
        "blocks",
        "max_depth",
        "freeze",
        "unfreeze",
        "trainable_summary",
        "param_groups",
        "set_train_mode",
    ],
    "train": ["fit", "evaluate", "predict", "TrainState"],
    "infra.cache": ["cache_info", "clear_cache"],
    "diagnose": ["diagnose", "Diagnosis"],
    "metrics": ["metrics_summary", "classification_report_df"],
    "plots": [
        "plot_history",
        "LivePlot",
        "plot_confusion",
        "show_mistakes",
        "mistakes_table",
        "compare_runs",
        "sweep_heatmap",
    ],
    "hf": ["HistoryCallback", "classification_metrics", "WeightedLossTrainer", "release_training_memory"],
    "infra.io": ["save_weights", "load_weights", "load_checkpoint", "save_pretrained"],
    "lessons.l02_freeze_lab": ["freeze_lab", "LabConfig"],
    "lora": [
        "LoraSettings",
        "lora_config",
        "apply_lora",
        "trainable_share",
        "save_adapter",
        "load_adapter",
        "load_adapters",
        "switch_adapters",
        "adapter_sizes",
        "merge",
        "logits_agree",
    ],
    "sft": ["train_sft", "response_loss", "perplexity", "generate", "compare_answers"],
    "gen_eval": [
        "check_safety_note",
        "format_ok",
        "rouge_l",
        "repetition_rate",
        "generation_scores",
        "evaluation_table",
        "rubric_table",
        "text_language",
    ],
    "textcls": ["TextRecipe", "train_text", "predict_proba", "text_model_for"],
    "lessons.l04_lora": ["LoraPanel", "peak_rss_mb"],
    "lessons.l05_overfit": ["set_head", "few_per_class", "overfit_table"],
    "lessons.l03_sentiment": ["compare_freezing", "ProgressiveUnfreezing", "layerwise_optimizer"],
    "infra.results": ["write_results", "results_table"],
    "infra.doctor": ["doctor"],
    "infra.compat": ["ensure_torchvision"],
}

_WHERE = {name: module for module, names in _API.items() for name in names}
__all__ = sorted(_WHERE) + ["__version__"]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ftkit' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return __all__


class _Package(types.ModuleType):
    """Keeps `ftkit.freeze` and `ftkit.diagnose` the *functions*.

    Those functions share their name with the module that defines them, and Python binds a
    submodule onto its package when it is first imported, which would replace the function.
    Reach the modules themselves with `from ftkit.freeze import ...` or importlib."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
