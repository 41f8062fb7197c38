"""The inference service: FastAPI + ONNX Runtime, Prometheus metrics, two versions side by side.

    ftkit serve outputs/07_deploy/text_v1 outputs/07_deploy/text_v2 --split v1=0.9,v2=0.1

    GET  /health          {"status": "ok", "models": [...]}
    GET  /info            name, version, labels, export date, training metrics, traffic share
    POST /predict/text    {"texts": ["...", ...]} -> {"predictions": [{"label", "score"}], "model_version"}
    POST /predict/image   multipart upload in the field `file` -> the same answer for one image
    GET  /docs, /metrics  OpenAPI page; Prometheus text (per route, and per route x model version)

A/B test: each request of a task goes to one of that task's versions at random with the stated
shares; a client can pin a version with the header `X-Model-Version` (or `?version=`); the
answer names the version that replied. Every bad request gets a 4xx with `{"error": "<one line>"}`
and the server goes on serving.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at definition
# time, and the request model is defined inside create_app.

import io
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Annotated

from ..errors import ConfigError
from .modeldir import read_model_dir

__all__ = ["ServeConfig", "create_app", "parse_split", "serve"]

VERSION_HEADER = "X-Model-Version"


@dataclass
class ServeConfig:
    """Limits of the service: each bad request is refused before any work is done."""

    max_texts: int = field(
        default=64,
        metadata={
            "help": "texts per request (a batch of 64 keeps one request under ~1 s for MiniLM on 2 cores)"
        },
    )
    max_text_chars: int = field(
        default=2000,
        metadata={
            "help": "characters per text: ~4x the tokens the model reads "
            "(max_length 128-512), longer is cut anyway"
        },
    )
    max_image_bytes: int = field(
        default=5_000_000, metadata={"help": "bytes per upload: a 12 Mpx phone JPEG is ~3-5 MB"}
    )
    max_pixels: int = field(
        default=40_000_000,
        metadata={
            "help": "width x height before decoding: stops decompression bombs (a tiny PNG of 50k x 50k)"
        },
    )
    threads: int = field(
        default=1,
        metadata={
            "help": "ORT threads per request: requests already run in "
            "parallel, more threads per call would oversubscribe the CPU"
        },
    )
    seed: int | None = field(
        default=None, metadata={"help": "seed of the A/B draw (None: a fresh draw each run)"}
    )

    def __post_init__(self):
        for name in ("max_texts", "max_text_chars", "max_image_bytes", "max_pixels", "threads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(
                    f"ServeConfig.{name} must be a positive integer, got {getattr(self, name)!r}."
                )


def parse_split(text: str | None) -> dict:
    """'v1=0.9,v2=0.1' -> {'v1': 0.9, 'v2': 0.1}."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        version, sep, share = part.partition("=")
        try:
            out[version.strip()] = float(share)
        except ValueError:
            raise ConfigError(f"Cannot read the traffic split {text!r}. Write it as v1=0.9,v2=0.1.") from None
        if not sep:
            raise ConfigError(f"Cannot read the traffic split {text!r}. Write it as v1=0.9,v2=0.1.")
    return out


class Router:
    """The loaded versions per task and the weighted random choice between them."""

    def __init__(self, model_dirs, split: dict | None, config: ServeConfig):
        from .predictor import OnnxClassifier

        if not model_dirs:
            raise ConfigError(
                "No model directory given. Pass the folder an export wrote, e.g. "
                "ftkit serve outputs/07_deploy/text_v1."
            )
        dirs = [read_model_dir(d) for d in model_dirs]  # every directory checked before any is loaded
        versions = [d.version for d in dirs]
        if len(set(versions)) != len(versions):
            raise ConfigError(
                f"Two model directories have the same version ({versions}). Give each export its "
                "own version, e.g. copy_model_dir(src, dst, version='v2')."
            )
        self.models = {d.version: OnnxClassifier(d, threads=config.threads, verify=False) for d in dirs}
        for model in self.models.values():  # load tokenizers now, not on the first request
            if model.task == "text":
                model.encode_texts(["warm-up"])
        split = dict(split or {})
        unknown = sorted(set(split) - set(versions))
        if unknown:
            raise ConfigError(
                f"The traffic split names {unknown}, which are not loaded (loaded: {versions})."
            )
        self.shares: dict = {}
        for task in ("text", "image"):
            vs = [v for v in versions if self.models[v].task == task]
            if not vs:
                continue
            given = {v: split[v] for v in vs if v in split}
            if any(s < 0 for s in given.values()) or sum(given.values()) > 1 + 1e-9:
                raise ConfigError(f"The {task} shares {given} must be >= 0 and add up to at most 1.")
            rest = [v for v in vs if v not in given]
            left = 1.0 - sum(given.values())
            shares = {**given, **{v: left / len(rest) for v in rest}} if rest else given
            if abs(sum(shares.values()) - 1) > 1e-6:
                raise ConfigError(f"The {task} shares {shares} add up to {sum(shares.values()):.3f}, not 1.")
            self.shares[task] = shares
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def pick(self, task: str, wanted: str | None):
        from fastapi import HTTPException

        if task not in self.shares:
            raise HTTPException(
                404,
                f"This server has no {task} model (it serves: {', '.join(self.shares)}). "
                f"Start it with an exported {task} model directory.",
            )
        if wanted is not None:
            if wanted not in self.shares[task]:
                raise HTTPException(
                    404,
                    f"Unknown {task} model version {wanted!r}. Available: {', '.join(self.shares[task])}.",
                )
            return self.models[wanted]
        versions, weights = zip(*self.shares[task].items(), strict=True)
        with self._lock:
            return self.models[self._rng.choices(versions, weights)[0]]


def _one_line(exc) -> str:
    """A validation error as one line: 'texts.2: Input should be a valid string'."""
    errors = exc.errors() if hasattr(exc, "errors") else []
    if not errors:
        return " ".join(str(exc).split())
    e = errors[0]
    where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {e.get('msg', 'invalid')}{more}"


def create_app(model_dirs, split: dict | None = None, config: ServeConfig | None = None):
    """The FastAPI app serving `model_dirs` (raises ModelError / ConfigError before serving anything)."""
    from fastapi import FastAPI, File, Header, HTTPException, Query, Request, UploadFile
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .metrics import instrument

    config = config or ServeConfig()
    router = Router(model_dirs, split, config)
    app = FastAPI(
        title="ftkit inference service",
        version="1",
        description="Fine-tuned classifiers exported to ONNX (ftkit lesson 07).",
    )
    app.state.router, app.state.config = router, config

    class TextRequest(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        texts: list[str]

    def error(status: int, message: str):
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return error(exc.status_code, " ".join(str(exc.detail).split()))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        return error(422, _one_line(exc))

    @app.exception_handler(Exception)
    async def _crash(request, exc):  # a bug must not take the service down: 500, one line, next request
        return error(500, f"internal error ({type(exc).__name__}); the request was not processed")

    content_types = {"/predict/text": "application/json", "/predict/image": "multipart/form-data"}

    @app.middleware("http")
    async def _check_request(request: Request, call_next):  # before FastAPI parses (and spools) a body
        length = request.headers.get("content-length")
        limit = config.max_image_bytes + 100_000  # the multipart envelope around the largest allowed image
        if length is not None and (not length.isdigit() or int(length) > limit):
            # read and drop a body up to 20x the limit, so the client (still sending) gets the answer;
            # past that the connection is simply closed
            if length.isdigit() and int(length) <= 20 * limit:
                async for _ in request.stream():
                    pass
            return error(
                413,
                f"Request body of {length} bytes is over the limit of {limit} bytes. "
                "Send a smaller image or fewer texts.",
            )
        wanted = content_types.get(request.url.path) if request.method == "POST" else None
        got = request.headers.get("content-type", "")
        if wanted and got.split(";")[0].strip().lower() != wanted:
            field_hint = " with the image in the field 'file'" if "multipart" in wanted else ""
            return error(415, f"Content-Type must be {wanted}{field_hint}, got {got or 'none'!r}.")
        return await call_next(request)

    def answer(model, probs, response_headers):
        preds = [
            {"label": model.labels[int(i)], "score": round(float(p[int(i)]), 6)}
            for p, i in zip(probs, probs.argmax(1), strict=True)
        ]
        return JSONResponse({"predictions": preds, "model_version": model.version}, headers=response_headers)

    @app.get("/health")
    def health():
        return {"status": "ok", "models": sorted(router.models)}

    @app.get("/info")
    def info():
        return {
            "models": [{**m.dir.info(), "share": router.shares[m.task][v]} for v, m in router.models.items()],
            "limits": asdict(config),
        }

    @app.post("/predict/text")
    async def predict_text(
        body: TextRequest,
        version: Annotated[str | None, Query(description="pin a model version")] = None,
        x_model_version: Annotated[str | None, Header()] = None,
    ):
        texts = body.texts
        if not texts:
            raise HTTPException(422, 'texts is empty. Send at least one text: {"texts": ["..."]}.')
        if len(texts) > config.max_texts:
            raise HTTPException(
                413,
                f"{len(texts)} texts in one request, the limit is {config.max_texts}. "
                "Split them over several requests.",
            )
        for i, text in enumerate(texts):
            if not text.strip():
                raise HTTPException(422, f"texts[{i}] is empty. Send non-empty texts.")
            if len(text) > config.max_text_chars:
                raise HTTPException(
                    413,
                    f"texts[{i}] has {len(text)} characters, the limit is "
                    f"{config.max_text_chars}. Shorten it.",
                )
        model = router.pick("text", x_model_version or version)
        probs = await run_in_threadpool(model.predict_texts, texts)
        return answer(model, probs, {VERSION_HEADER: model.version})

    @app.post("/predict/image")
    async def predict_image(
        file: Annotated[UploadFile, File(description="a JPEG/PNG/WebP image")],
        version: Annotated[str | None, Query(description="pin a model version")] = None,
        x_model_version: Annotated[str | None, Header()] = None,
    ):
        model = router.pick("image", x_model_version or version)
        data = await file.read(config.max_image_bytes + 1)
        if len(data) > config.max_image_bytes:
            raise HTTPException(
                413, f"The image is over the limit of {config.max_image_bytes} bytes. Send a smaller file."
            )
        if not data:
            raise HTTPException(422, "The uploaded file is empty. Send an image in the field 'file'.")
        image = await run_in_threadpool(
            _decode, data, config.max_pixels, int(model.dir.manifest["preprocess"]["image_size"])
        )
        probs = await run_in_threadpool(model.predict_images, [image])
        return answer(model, probs, {VERSION_HEADER: model.version})

    instrument(app, VERSION_HEADER)
    return app


def _decode(data: bytes, max_pixels: int, image_size: int):
    """Bytes -> upright RGB PIL image, refusing non-images, huge pixel counts and truncated files."""
    from fastapi import HTTPException
    from PIL import Image, UnidentifiedImageError

    from ..data.image_files import open_rgb

    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            width, height, fmt = probe.width, probe.height, probe.format
    except Image.DecompressionBombError as err:  # Pillow's own check (over ~179 Mpx) fires already here
        raise HTTPException(
            413,
            f"The image is too large to decode ({' '.join(str(err).split())[:90]}). "
            "Resize it before sending.",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise HTTPException(
            415, "The upload is not an image this server can read (JPEG, PNG, WebP, ...)."
        ) from None
    if width * height > max_pixels:
        raise HTTPException(
            413,
            f"The image is {width}x{height} = {width * height / 1e6:.0f} Mpx, the limit is "
            f"{max_pixels / 1e6:.0f} Mpx. Resize it before sending.",
        )
    try:
        return open_rgb(io.BytesIO(data), image_size)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise HTTPException(
            422,
            f"The {fmt} image could not be decoded ({' '.join(str(err).split())[:80]}): "
            "it is truncated or corrupt.",
        ) from None


def serve(
    model_dirs,
    host: str = "127.0.0.1",
    port: int = 8000,
    split: dict | None = None,
    config: ServeConfig | None = None,
) -> None:
    """Load, check and serve with uvicorn until Ctrl-C."""
    import uvicorn

    app = create_app(model_dirs, split, config)
    router = app.state.router
    for task, shares in router.shares.items():
        print(
            f"{task}: " + ", ".join(f"{v} ({router.models[v].dir.name}) {s:.0%}" for v, s in shares.items()),
            flush=True,
        )
    where = (
        (
            "this machine only; pass --host 0.0.0.0 to expose it deliberately (then put authentication "
            "and TLS in front of it)"
        )
        if host in ("127.0.0.1", "localhost", "::1")
        else "EXPOSED beyond this machine"
    )
    print(f"serving on http://{host}:{port} ({where}); docs at /docs, metrics at /metrics", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
