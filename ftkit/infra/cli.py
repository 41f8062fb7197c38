"""The `ftkit` command: `doctor`, `samples`, `lessons`, `refresh`, `handouts`, `lab-settings`, `warmup`,
`train`, `estimate`, `serve`.

Kept thin: each sub-command calls one library function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import repo_root


def _doctor(args) -> int:
    from .doctor import doctor

    report = doctor(print_report=True)
    return 0 if report.get("ok", True) else 1


def _samples(args) -> int:
    from ..samples.helmet import generate_helmet_dataset

    out = Path(args.out)
    generate_helmet_dataset(
        out,
        n_train=args.n_train,
        n_val=args.n_val,
        n_test=args.n_test,
        size=args.size,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"helmet sample images written to {out}")
    return 0


def _lessons(args) -> int:
    from .run_lessons import run_lessons

    table = run_lessons(
        notebooks_dir=Path(args.notebooks), out_dir=Path(args.out), profile=args.profile, only=args.only
    )
    print(table.to_string(index=False) if hasattr(table, "to_string") else table)
    return 0


def _refresh(args) -> int:
    from .paths import repo_root
    from .run_lessons import stale_notebooks, store_outputs

    books = [Path(nb) for nb in args.notebooks] or stale_notebooks(repo_root() / "notebooks")
    if not books:
        print("every lesson's stored outputs match its code")
    for nb in books:
        print(f"== {nb} (profile {args.profile})", flush=True)
        store_outputs(nb, profile=args.profile)
        print(f"   stored its outputs ({nb.stat().st_size / 1e6:.2f} MB)", flush=True)
    return 0


def _handouts(args) -> int:
    from .handouts import write_handouts

    written = write_handouts(Path(args.out), args.notebooks)
    for kind, paths in written.items():
        print(f"{len(paths)} {kind} copies in {Path(args.out) / kind}")
    return 0


def _lab_settings(args) -> int:
    from .lab import write_lab_settings

    print(f"JupyterLab class defaults (no news pop-up): {write_lab_settings(args.settings_dir)}")
    return 0


def _warmup(args) -> int:
    from .presets import load_causal_lm, load_text_classifier, load_vision
    from .runtime import get_profile

    profile = get_profile(args.profile)
    # Load each of the profile's models once: the packaged GGUF is converted and cached,
    # so a lesson later starts in about a second instead of ~25 s.
    load_vision(profile.vision_model, profile=profile.name)
    load_text_classifier(profile.text_model, profile=profile.name)
    load_causal_lm(profile.lm_model, profile=profile.name)
    return 0


def _train(args) -> int:
    from ..recipes.config import load_recipe
    from ..recipes.run import run_recipe

    recipe = load_recipe(args.config, args.overrides, profile=args.profile)  # every check, before any work
    out = Path(args.output_dir or Path("outputs") / "train" / Path(args.config).stem)
    run_recipe(recipe, out, resume=args.resume)
    return 0


def _estimate(args) -> int:
    from ..recipes.config import load_recipe
    from ..recipes.estimate import estimate_table

    recipe = load_recipe(args.config, args.overrides)
    train = recipe.configs.get("train")
    if recipe.kind != "sft":
        from ..errors import ConfigError

        raise ConfigError(
            f"ftkit estimate models causal-LM fine-tuning; {args.config} is a {recipe.kind} recipe."
        )
    table = estimate_table(
        batch=train["per_device_train_batch_size"],
        length=train["max_length"],
        r=recipe.configs["lora"].r,
        precision=args.precision,
        activation_checkpointing=train["activation_checkpointing"],
    )
    print(
        f"per GPU, one micro-batch of {train['per_device_train_batch_size']} x {train['max_length']} tokens, "
        f"{args.precision}, activation_checkpointing={train['activation_checkpointing']} (docs/SCALING.md)"
    )
    print(table.to_string(index=False))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ftkit", description="Fine-tuning lessons kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the environment and which model presets work offline")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("samples", help="regenerate the procedural helmet images")
    p.add_argument("--out", default=str(repo_root() / "data_samples" / "helmet"))
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-val", type=int, default=100)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=_samples)

    p = sub.add_parser("lessons", help="run every lesson notebook headless and print a results table")
    p.add_argument("--profile", default="default", help="smoke | default | gpu")
    p.add_argument("--out", default="outputs/lessons")
    p.add_argument("--notebooks", default=str(repo_root() / "notebooks"))
    p.add_argument("--only", nargs="*", default=None, help="notebook name prefixes, e.g. 01 03")
    p.set_defaults(func=_lessons)

    p = sub.add_parser("warmup", help="load (and cache) the models of a profile ahead of a class")
    p.add_argument("--profile", default="default")
    p.set_defaults(func=_warmup)

    p = sub.add_parser(
        "refresh", help="re-execute lessons and store their outputs (default: every stale lesson)"
    )
    p.add_argument("notebooks", nargs="*", help="notebook files; none means every lesson whose code changed")
    p.add_argument("--profile", default="default", help="the stored outputs are a default-profile run")
    p.set_defaults(func=_refresh)

    p = sub.add_parser(
        "handouts", help="write a student copy and a recall copy of every lesson (no outputs, no answers)"
    )
    p.add_argument("--out", default=str(repo_root() / "handouts"), help="a folder (ignored by git)")
    p.add_argument("--notebooks", default=None, help="the lessons' folder (default: notebooks/)")
    p.set_defaults(func=_handouts)

    p = sub.add_parser(
        "lab-settings", help="JupyterLab defaults for a class (no news pop-up); `make lab` runs it"
    )
    p.add_argument(
        "--settings-dir", default=None, help="default: share/jupyter/lab/settings of this environment"
    )
    p.set_defaults(func=_lab_settings)

    p = sub.add_parser(
        "train", help="run a recipe (configs/*.yaml) headless; accelerate launch -m ftkit train ..."
    )
    p.add_argument("config", help="a recipe YAML file, e.g. configs/helmet.yaml")
    p.add_argument("overrides", nargs="*", help="section.key=value, e.g. head.epochs=3")
    p.add_argument("--profile", default=None, help="smoke | default | gpu (overrides the file's profile)")
    p.add_argument("--output-dir", default=None, help="default outputs/train/<config name>")
    p.add_argument("--resume", action="store_true", help="go on from the checkpoints in the output dir")
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "estimate", help="memory and compute per step of an SFT recipe for Qwen2.5 0.5B/1.5B/7B"
    )
    p.add_argument("config")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--precision", default="bf16", choices=("bf16", "fp32"))
    p.set_defaults(func=_estimate)

    from ..deploy.cli import add_serve_parser  # argparse only: serving libraries load when `serve` runs

    add_serve_parser(sub)

    # key=value overrides may follow the options (ftkit train C.yaml --profile smoke head.epochs=3)
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "overrides", None) is not None and not any(e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from ..errors import FtkitError

    try:
        return args.func(args)
    except FtkitError as exc:  # one clean line, no traceback, for user mistakes
        print(f"ftkit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
