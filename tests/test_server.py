"""The real service: `ftkit serve` started as a uvicorn process on 127.0.0.1, spoken to over HTTP.

One server for the module (two text versions at 70/30 plus an image model, small limits so the
oversized inputs stay small); each bad request must get a 4xx JSON line and leave the server
answering the next request normally.
"""

import io

import httpx
import pytest
from PIL import Image

import ftkit
from ftkit.deploy import ServerProcess, copy_model_dir, export_image_model, export_text_model, load_test
from ftkit.lessons.l07_deploy import SAMPLES

B_SHARE = 0.3
AB_TOLERANCE = 0.05  # 1,000 draws at p=0.3 have a standard deviation of 0.0145: 0.05 is 3.4 of them
MAX_IMAGE_BYTES = 200_000
MAX_PIXELS = 1_000_000
JPEG = (SAMPLES / "helmet" / "test" / "helmet" / "0003.jpg").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    loaded = ftkit.load_text_classifier(
        "tiny-bert", num_labels=2, id2label={0: "negative", 1: "positive"}, seed=0
    )
    v1 = export_text_model(
        loaded.model,
        loaded.tokenizer,
        root / "v1",
        name="sentiment",
        version="v1",
        metrics={"test_accuracy": 0.5},
    )
    v2 = copy_model_dir(v1.path, root / "v2", version="v2")
    vision = ftkit.load_vision("tiny-resnet", num_classes=2, seed=0)
    image = export_image_model(
        vision.model,
        root / "helmet",
        name="helmet",
        version="h1",
        labels=["helmet", "no_helmet"],
        image_size=32,
    )
    args = [
        "--seed",
        "0",
        "--max-texts",
        "8",
        "--max-text-chars",
        "500",
        "--max-image-bytes",
        str(MAX_IMAGE_BYTES),
        "--max-pixels",
        str(MAX_PIXELS),
    ]
    with ServerProcess(
        [v1.path, v2.path, image.path], split=f"v1={1 - B_SHARE},v2={B_SHARE}", extra_args=args
    ) as proc:
        with httpx.Client(base_url=proc.url, timeout=30) as client:
            yield proc, client


def _still_serving(client):
    assert client.get("/health").json()["status"] == "ok"
    r = client.post("/predict/text", json={"texts": ["fine"]})
    assert r.status_code == 200 and r.json()["predictions"][0]["label"] in ("negative", "positive")


def test_binds_localhost_and_says_how_to_expose_it(server):
    proc, _ = server
    assert proc.url.startswith("http://127.0.0.1:")
    assert "--host 0.0.0.0 to expose it deliberately" in proc.log()


def test_health_info_and_docs(server):
    _, client = server
    assert client.get("/health").json() == {"status": "ok", "models": ["h1", "v1", "v2"]}
    models = {m["version"]: m for m in client.get("/info").json()["models"]}
    assert models["v1"]["labels"] == ["negative", "positive"] and models["v1"]["metrics"] == {
        "test_accuracy": 0.5
    }
    assert models["v1"]["exported_at"] and models["v1"]["name"] == "sentiment"
    assert (models["v1"]["share"], models["v2"]["share"], models["h1"]["share"]) == pytest.approx(
        (0.7, 0.3, 1.0)
    )
    assert client.get("/docs").status_code == 200
    assert {"/predict/text", "/predict/image", "/health", "/info"} <= set(
        client.get("/openapi.json").json()["paths"]
    )


def test_predict_one_and_many_texts_and_pin_a_version(server):
    _, client = server
    r = client.post("/predict/text", json={"texts": ["great stay", "never again", "ok"]})
    assert r.status_code == 200
    body = r.json()
    assert len(body["predictions"]) == 3 and body["model_version"] in ("v1", "v2")
    assert all(set(p) == {"label", "score"} and 0.5 <= p["score"] <= 1 for p in body["predictions"])
    for version in ("v1", "v2"):
        r = client.post("/predict/text", json={"texts": ["x"]}, headers={"X-Model-Version": version})
        assert r.json()["model_version"] == version and r.headers["x-model-version"] == version
    assert client.post("/predict/text?version=v2", json={"texts": ["x"]}).json()["model_version"] == "v2"


def test_predict_image_upload(server):
    _, client = server
    r = client.post("/predict/image", files={"file": ("head.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "h1" and body["predictions"][0]["label"] in ("helmet", "no_helmet")


def _png(width, height) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height)).save(buf, "PNG")  # one bit per pixel: a huge picture in a few KB
    return buf.getvalue()


BAD_TEXT = {
    "empty list": ({"json": {"texts": []}}, 422, "empty"),
    "empty text": ({"json": {"texts": ["ok", "   "]}}, 422, "texts[1] is empty"),
    "text over the limit": ({"json": {"texts": ["a" * 501]}}, 413, "limit is 500"),
    "list over the batch limit": ({"json": {"texts": ["a"] * 9}}, 413, "limit is 8"),
    "numbers instead of strings": ({"json": {"texts": [1, 2]}}, 422, "valid string"),
    "a string instead of a list": ({"json": {"texts": "hello"}}, 422, "valid list"),
    "a list instead of an object": ({"json": ["hello"]}, 422, "body"),
    "wrong field name": ({"json": {"text": ["hello"]}}, 422, "texts"),
    "broken JSON": (
        {"content": b'{"texts": [', "headers": {"content-type": "application/json"}},
        422,
        "JSON",
    ),
    "wrong content type": (
        {"content": b'{"texts": ["a"]}', "headers": {"content-type": "text/plain"}},
        415,
        "application/json",
    ),
    "unknown model version": ({"json": {"texts": ["a"]}, "headers": {"X-Model-Version": "v9"}}, 404, "v9"),
    "body over the byte limit": ({"json": {"texts": ["a" * 400] * 1000}}, 413, "Request body"),
}

BAD_IMAGE = {
    "not an image": (
        {"files": {"file": ("notes.txt", b"just some text", "text/plain")}},
        415,
        "not an image",
    ),
    "truncated JPEG": (
        {"files": {"file": ("cut.jpg", JPEG[: len(JPEG) // 2], "image/jpeg")}},
        422,
        "truncated",
    ),
    "decompression bomb over our pixel limit": (
        {"files": {"file": ("bomb.png", _png(2000, 2000), "image/png")}},
        413,
        "Mpx",
    ),
    "decompression bomb over Pillow's limit": (
        {"files": {"file": ("bomb.png", _png(20000, 20000), "image/png")}},
        413,
        "too large",
    ),
    "image over the byte limit": (
        {"files": {"file": ("big.jpg", JPEG + b"\0" * MAX_IMAGE_BYTES, "image/jpeg")}},
        413,
        "limit",
    ),
    "upload far over the byte limit, refused before parsing": (
        {"files": {"file": ("huge.jpg", JPEG + b"\0" * 2 * MAX_IMAGE_BYTES, "image/jpeg")}},
        413,
        "Request body",
    ),
    "empty file": ({"files": {"file": ("empty.jpg", b"", "image/jpeg")}}, 422, "empty"),
    "wrong field name": ({"files": {"image": ("head.jpg", JPEG, "image/jpeg")}}, 422, "file"),
    "wrong content type": ({"content": JPEG, "headers": {"content-type": "image/jpeg"}}, 415, "multipart"),
    "unknown model version": (
        {"files": {"file": ("head.jpg", JPEG, "image/jpeg")}, "headers": {"X-Model-Version": "v1"}},
        404,
        "Unknown image model version",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TEXT), ids=list(BAD_TEXT))
def test_bad_text_requests_get_a_4xx_line_and_the_server_goes_on(server, case):
    _, client = server
    kwargs, status, words = BAD_TEXT[case]
    r = client.post("/predict/text", **kwargs)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert words in message and "\n" not in message and len(message) < 300
    _still_serving(client)


@pytest.mark.parametrize("case", list(BAD_IMAGE), ids=list(BAD_IMAGE))
def test_bad_image_requests_get_a_4xx_line_and_the_server_goes_on(server, case):
    _, client = server
    kwargs, status, words = BAD_IMAGE[case]
    r = client.post("/predict/image", **kwargs)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert words in message and "\n" not in message and len(message) < 300
    _still_serving(client)


def test_ab_split_over_1000_requests_and_per_version_counts_in_metrics(server):
    proc, client = server

    def counts():
        found = {}
        for line in client.get("/metrics").text.splitlines():
            if (
                line.startswith('ftkit_model_requests_total{handler="/predict/text"')
                and 'status="2xx"' in line
            ):
                version = line.split('model_version="')[1].split('"')[0]
                found[version] = float(line.rsplit(" ", 1)[1])
        return found

    before = counts()
    report = load_test(proc.url + "/predict/text", [{"texts": ["a fine stay"]}], requests=1000, concurrency=8)
    assert report["failed_requests"] == 0
    share = report["versions"].get("v2", 0) / 1000
    assert abs(share - B_SHARE) <= AB_TOLERANCE, report["versions"]
    after = counts()
    for version in ("v1", "v2"):  # Prometheus counted exactly the answers the client saw
        assert after.get(version, 0) - before.get(version, 0) == report["versions"][version]
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/predict/text",method="POST",status="2xx"}' in text
    assert (
        'ftkit_model_request_duration_seconds_bucket{handler="/predict/text",le="0.005",model_version="v1"}'
        in text
    )


def test_bounded_concurrent_load_has_no_failed_requests(server):
    proc, client = server
    texts = [{"texts": [t]} for t in ("great", "awful room", "the staff were lovely " * 10)]
    report = load_test(proc.url + "/predict/text", texts, requests=400, concurrency=16)
    assert report["requests"] == 400 and report["failed_requests"] == 0 and report["statuses"] == {200: 400}
    assert report["errors"] == {}
    _still_serving(client)
