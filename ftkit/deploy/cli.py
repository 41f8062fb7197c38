"""`ftkit serve MODEL_DIR [MORE_DIRS ...] [--port N] [--host 127.0.0.1] [--split v1=0.9,v2=0.1]`.

Only argparse here, so `ftkit --help` stays instant; FastAPI, uvicorn and ONNX Runtime are
imported when the command runs.
"""

from __future__ import annotations

__all__ = ["add_serve_parser"]


def add_serve_parser(sub) -> None:
    from .server import ServeConfig

    p = sub.add_parser("serve", help="serve exported model directories over HTTP (lesson 07)")
    p.add_argument(
        "model_dirs",
        nargs="+",
        metavar="MODEL_DIR",
        help="folders written by ftkit.deploy export/quantize; two versions of a task = an A/B test",
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="127.0.0.1 (default) answers this machine only; 0.0.0.0 exposes the service deliberately",
    )
    p.add_argument(
        "--split", default=None, help="traffic shares per version, e.g. v1=0.9,v2=0.1 (default: equal)"
    )
    defaults = ServeConfig()
    for name, f in ServeConfig.__dataclass_fields__.items():
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=getattr(defaults, name),
            help=f.metadata.get("help"),
        )
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from .server import ServeConfig, parse_split, serve

    config = ServeConfig(**{name: getattr(args, name) for name in ServeConfig.__dataclass_fields__})
    serve(args.model_dirs, host=args.host, port=args.port, split=parse_split(args.split), config=config)
    return 0
