"""ftkit: a small kit for learning to fine-tune pretrained models in Jupyter.

    import ftkit
    data   = ftkit.load_image_folder(ftkit.sample_path("helmet"))
    loaded = ftkit.load_vision("resnet18", num_classes=len(data.classes))
    ftkit.freeze(loaded.model, depth=0)                      # only the new head trains
    history = ftkit.fit(loaded.model, data.train, data.val, ftkit.TrainConfig(lr=1e-3))
    ftkit.plot_history(history); print(ftkit.diagnose(history))

Names are loaded lazily: `import ftkit` is instant and has no side effects; the module
behind a name (and torch / transformers) is imported the first time you use that name.
The table below is the whole public API of the kit; a lesson's own helpers are imported from
its module in `ftkit.lessons` (e.g. `from ftkit.lessons.l05_overfit import set_head`).
docs/DESIGN.md has the map of the package and a reading order.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

__version__ = "0.1.0"

_API = {
    "errors": ["FtkitError", "DataError", "ConfigError", "ModelError", "SaveError", "TrainingDiverged"],
    "infra.runtime": ["get_profile", "seed_everything", "pick_device", "free_memory", "memory_advice"],
    "history": ["History"],
    "callbacks": ["Callback", "TrainState"],
    "config": ["TrainConfig"],
    "infra.presets": [
        "load_vision",
        "load_text_classifier",
        "load_causal_lm",
        "list_presets",
        "register_preset",
    ],
    "infra.preset_table": ["Preset"],
    "infra.paths": ["sample_path", "lesson_path"],
    "data.images": ["load_image_folder", "load_images_for_prediction"],
    "data.image_display": ["show_samples", "preview_augmentations"],
    "data.noise": ["flip_labels"],
    "data.text": ["load_text_table", "TextData", "make_imbalanced", "class_weights"],
    "data.clean": ["careful_clean", "anonymise", "find_leaks"],
    "data.augment": ["augment_texts"],
    "data.instructions": ["load_instructions", "to_messages"],
    "data.sft_encoding": ["encode_for_sft", "build_sft_dataset", "SFTCollator", "show_masking"],
    "freeze": [
        "blocks",
        "max_depth",
        "check_depth",
        "freeze",
        "freeze_state",
        "unfreeze",
        "trainable_summary",
        "param_groups",
    ],
    "train": ["fit", "evaluate"],
    "lr_finder": ["lr_range_test", "LRRangeTest"],
    "data.loaders": ["predict"],
    "diagnose": ["diagnose"],
    "metrics": ["metrics_summary", "classification_report_df"],
    "thresholds": [
        "one_vs_rest",
        "pick_threshold",
        "recall_lower_bound",
        "at_threshold",
        "predict_with_threshold",
    ],
    "plots": ["plot_history", "LivePlot", "compare_runs"],
    "error_plots": ["plot_confusion", "show_mistakes", "mistakes_table", "plot_roc_pr"],
    "hf": ["HistoryCallback", "classification_metrics", "WeightedLossTrainer", "release_training_memory"],
    "infra.io": ["save_weights", "load_weights", "save_pretrained"],
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
    "peft_methods": ["IA3Settings", "PrefixSettings", "peft_settings", "apply_peft"],
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
    "textcls": ["TextRecipe", "train_text", "predict_proba", "out_of_fold_proba", "text_model_for"],
    "deploy.export": [
        "export_text_model",
        "export_image_model",
        "text_parity",
        "image_parity",
        "describe_onnx",
        "torch_text_probs",
        "torch_image_probs",
    ],
    "deploy.quantize": ["quantize_dynamic_dir", "quantize_static_dir", "cpu_flags"],
    "deploy.timing": ["compare_runtimes", "speedups"],
    "deploy.predictor": ["OnnxClassifier"],
    "deploy.client": ["ServerProcess", "load_test"],
    "infra.results": ["write_results"],
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
