"""The web API against the command line and the engine: ``POST /api/shape`` is ``convgeom shape
--json`` for the same fields (refusals: the same line), ``/api/draw`` is ``convgeom.draw``,
``/api/trace`` is ``convgeom trace --json``, ``/api/port`` is ``convgeom.port``; every malformed
request gets a 4xx with one line of JSON, never a 500 or a hang."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

import convgeom as cg  # noqa: E402
from convgeom.cli import main  # noqa: E402
from convgeom.cli.layer import OPS  # noqa: E402
from convgeom.web.fields import LAYER_FIELDS, MAX_BODY_BYTES  # noqa: E402
from convgeom.web.server import Limits, create_app  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(create_app(), base_url=BASE, raise_server_exceptions=False) as c:
        yield c


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def argv_of(fields: dict[str, Any]) -> list[str]:
    argv = ["shape", fields["op"]]
    for name, value in fields.items():
        if name == "op":
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [f"{flag}={value}"]
    return argv + ["--json"]


def one_line_error(response: Any) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body["error"], str) and body["error"] and "\n" not in body["error"], body
    return str(body["error"])


# ----------------------------------------------------------------------------- /api/shape = shape --json
SIZE = st.integers(-2, 12).map(str) | st.sampled_from(["7,5", "3,3,3", "", "x", "2.5", "99999999999999999999", "[4, 6]"])
PADDING = SIZE | st.sampled_from(["same", "valid", "causal", "full", "same_lower", "1:2", "0:1,1:0", "-1:-1", "half"])
FIELD_VALUES = {
    "input": st.integers(1, 40).map(str) | st.sampled_from(["9,7", "5,6,7", "0", "-3", "a"]),
    "kernel": SIZE, "stride": SIZE, "dilation": SIZE, "output_padding": SIZE, "output_size": SIZE, "output": SIZE,
    "size": SIZE, "padding": PADDING, "groups": st.sampled_from(["1", "2", "0", "x"]),
    "scale": st.sampled_from(["2", "1.5", "0.5,2", "-1", "nan"]), "ceil_mode": st.just(True),
    "count_include_pad": st.sampled_from(["true", "false"]), "divisor": st.sampled_from(["1", "3", "0"]),
    "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular", "wrap"]),
    "framework": st.sampled_from(["torch", "tensorflow", "jax", "onnx", "keras", "caffe"]),
}


@st.composite
def layer_fields(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(list(OPS)))
    _, takes, needs = OPS[op]
    fields: dict[str, Any] = {"op": op, "input": draw(FIELD_VALUES["input"])}
    for name in FIELD_VALUES:
        if name == "input":
            continue
        if name in needs or draw(st.integers(0, 9)) < (6 if name in takes else 1):
            fields[name] = draw(FIELD_VALUES[name])
    return fields


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(layer_fields())
def test_shape_is_the_cli_json(client: Any, fields: dict[str, Any]) -> None:
    code, out, err = cli(argv_of(fields))
    response = client.post("/api/shape", json=fields)
    if code == 0:
        assert response.status_code == 200, response.text
        assert response.json() == json.loads(out)
    else:
        assert code == 2, err
        assert one_line_error(response) == err.strip().removeprefix("convgeom: error: ")


def test_shape_reads_json_numbers_lists_and_pairs_as_the_cli_text(client: Any) -> None:
    typed = {"op": "conv", "input": [9, 7], "kernel": 3, "stride": [2, 1], "padding": [[1, 2], [0, 1]],
             "framework": "onnx"}
    text = {"op": "conv", "input": "9,7", "kernel": "3", "stride": "2,1", "padding": "1:2,0:1", "framework": "onnx"}
    assert client.post("/api/shape", json=typed).json() == client.post("/api/shape", json=text).json()
    _, out, _ = cli(argv_of(text))
    assert client.post("/api/shape", json=typed).json() == json.loads(out)
    pool = client.post("/api/shape", json={"op": "max_pool", "input": 5, "kernel": 2, "stride": 2, "ceil_mode": True})
    assert pool.json()["output"] == list(cg.max_pool(5, 2, 2, ceil_mode=True).output)


def test_the_readme_example(client: Any) -> None:
    body = {"op": "conv", "input": "7,7", "kernel": 3, "padding": "1:2,0:1"}
    _, out, _ = cli(argv_of(body))
    assert client.post("/api/shape", json=body).json() == json.loads(out)


MALFORMED = [
    (b"", 400, "empty"),
    (b"{", 400, "not JSON"),
    (b"[1, 2]", 400, "not an object"),
    (b'"conv"', 400, "not an object"),
    (b"\xff\xfe{}", 400, "not UTF-8"),
    (b"[" * 50_000, 400, "nests too deeply"),
    (b'{"op": "conv", "input": NaN, "kernel": 3}', 400, "NaN"),
    (b'{"op": "conv", "input": Infinity, "kernel": 3}', 400, "Infinity"),
    (b'{"op": "conv", "input": ' + b"9" * 5000 + b', "kernel": 3}', 400, "too long"),
    (b'{"op": "conv", "input": 7, "kernal": 3}', 400, "unknown field 'kernal'"),
    (b'{"input": 7, "kernel": 3}', 400, "no op"),
    (b'{"op": "conv", "kernel": 3}', 400, "no input"),
    (b'{"op": 3, "input": 7, "kernel": 3}', 400, "op is a JSON"),
    (b'{"op": "deconv", "input": 7, "kernel": 3}', 400, "unknown op"),
    (b'{"op": "conv", "input": 7, "kernel": true}', 400, "boolean"),
    (b'{"op": "conv", "input": 7, "kernel": 3.0}', 400, "not an integer"),
    (b'{"op": "conv", "input": 7, "kernel": {"a": 1}}', 400, "object"),
    (b'{"op": "conv", "input": 7, "kernel": []}', 400, "empty list"),
    (b'{"op": "conv", "input": [7, "x"], "kernel": 3}', 400, "not an integer"),
    (b'{"op": "conv", "input": 7, "kernel": 3, "padding": [[1, 2, 3]]}', 400, "pair 0 has 3 values"),
    (b'{"op": "conv", "input": 7, "kernel": 3, "ceil_mode": "yes"}', 400, "true/false"),
    (b'{"op": "conv", "input": "' + b"1," * 600 + b'1", "kernel": 3}', 400, "characters"),
    (b'{"op": "conv", "input": "' + b"7," * 17 + b'7", "kernel": 3}', 400, "axes"),
    (b'{"op": "conv", "input": 7, "kernel": 9}', 422, "Kernel size can't be greater"),
    (b'{"op": "conv", "input": 9223372036854775808, "kernel": 3}', 400, "larger than 9223372036854775807"),
    (b'{"op": "conv", "input": 9223372036854775807, "kernel": 3, "stride": 9223372036854775807}', 200, ""),
]


@pytest.mark.parametrize("body, status, needle", MALFORMED)
def test_malformed_requests_get_one_line(client: Any, body: bytes, status: int, needle: str) -> None:
    response = client.post("/api/shape", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    if status != 200:
        assert needle in one_line_error(response)


def test_oversized_bodies_are_refused_before_they_are_read(client: Any) -> None:
    big = b'{"op": "conv", "input": "7", "kernel": "3", "pad": "' + b" " * MAX_BODY_BYTES + b'"}'
    assert "cap" in one_line_error(client.post("/api/shape", content=big))
    response = client.post("/api/shape", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413

    def chunks() -> Any:  # no Content-Length: counted while it arrives
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = client.post("/api/layer", content=chunks())
    assert response.status_code == 413 and "cap" in one_line_error(response)


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/shape", 405), ("POST", "/api/nothing", 404), ("GET", "/static/../server.py", 404),
    ("GET", "/static/missing.js", 404), ("DELETE", "/api/layer", 405), ("POST", "/api/quiz", 405),
])
def test_routes_answer_json_errors(client: Any, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    one_line_error(response)


def test_only_this_machine_is_served_on_loopback(client: Any) -> None:
    evil = client.post("/api/shape", json={"op": "conv", "input": 7, "kernel": 3}, headers={"host": "evil.example"})
    assert evil.status_code == 400 and "not served" in one_line_error(evil)
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/api", headers={"host": host}).status_code == 200
    with TestClient(create_app(host="0.0.0.0"), base_url="http://10.1.2.3:8000") as other:
        assert other.get("/api").status_code == 200


def test_page_and_assets_are_served_from_the_package(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text
    index = client.get("/api").json()
    assert "POST /api/shape" in index and "POST /api/trace?input=1,3,224,224" in index


# ----------------------------------------------------------------------------- /api/draw, /api/layer
def test_draw_is_convgeom_draw(client: Any) -> None:
    svg = client.post("/api/draw", json={"op": "conv", "input": "5,5", "kernel": 3, "stride": 2, "padding": 1,
                                         "step": "1,2"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text == cg.draw(cg.conv((5, 5), 3, 2, 1), step=(1, 2))
    scatter = client.post("/api/draw", json={"op": "conv-transpose", "input": 3, "kernel": 3, "stride": 2,
                                             "view": "scatter"})
    assert scatter.text == cg.draw(cg.conv_transpose(3, 3, 2), mode="scatter")


@pytest.mark.parametrize("body, needle", [
    ({"op": "conv", "input": "1000000000000", "kernel": 3}, "cap of 160"),
    ({"op": "conv", "input": "2000000", "kernel": "1000000"}, "cap of 160"),
    ({"op": "conv", "input": "5", "kernel": 3, "step": "3"}, "outside"),
    ({"op": "conv", "input": "5,5", "kernel": 3, "step": "1"}, "step has 1 values"),
    ({"op": "conv", "input": "5", "kernel": 3, "view": "sideways"}, "unknown view"),
    ({"op": "conv", "input": "5", "kernel": 3, "values": "yes"}, "true or false"),
    ({"op": "adaptive-avg-pool", "input": "5", "output": 3}, "draws convolutions and pooling"),
])
def test_draw_refusals(client: Any, body: dict[str, Any], needle: str) -> None:
    assert needle in one_line_error(client.post("/api/draw", json=body))


def test_layer_has_everything_the_page_shows(client: Any) -> None:
    body = {"op": "conv", "input": "7,7", "kernel": 3, "stride": 2, "padding": 1}
    data = client.post("/api/layer", json=body).json()
    result = cg.conv((7, 7), 3, 2, 1)
    assert data["output_text"] == str(result.output) == "(4, 4)"
    assert data["shape"] == client.post("/api/shape", json=body).json()
    assert data["explanation"] == cg.explain(result)
    svg = data["picture"]["svg"]
    assert svg.count("<rect data-role=") == 9 * 9 + 3 * 3 + 4 * 4  # padded input, kernel, output
    assert 'class="window"' not in svg and 'class="focus"' not in svg  # the page lights the cells
    rows = {row["framework"]: row for row in data["frameworks"]["rows"]}
    for name in ("torch", "tensorflow", "jax", "onnx"):
        try:
            expected = cg.conv((7, 7), 3, 2, 1, framework=name)
        except cg.GeometryError as err:
            assert rows[name]["error"] == str(err) and rows[name]["differences"]
        else:
            assert rows[name]["output"] == list(expected.output)
            assert rows[name]["pad_before"] == [a.pad_before for a in expected.axes]


def test_a_refusal_says_why_in_every_framework(client: Any) -> None:
    response = client.post("/api/layer", json={"op": "conv", "input": 8, "kernel": 3, "stride": 2, "padding": "same"})
    with pytest.raises(cg.GeometryError) as refused:
        cg.conv(8, 3, 2, "same")
    assert one_line_error(response) == str(refused.value)
    body = response.json()
    assert body["explanation"] == cg.explain_call("conv", input=8, kernel=3, stride=2, padding="same", framework="torch")
    tf = next(r for r in body["frameworks"]["rows"] if r["framework"] == "tensorflow")
    assert tf["pad_before"] == [0] and tf["pad_after"] == [1]
    assert tf["differences"] == ["accepts this layer (output (4,)), which PyTorch refuses"]


def test_layer_picture_is_refused_not_the_layer_beyond_the_picture_cap(client: Any) -> None:
    data = client.post("/api/layer", json={"op": "conv", "input": "100000,100000", "kernel": 3}).json()
    assert data["output_text"] == "(99998, 99998)"
    assert "cap of 160" in data["picture"]["error"]
    # the diagnostics are O(1) in the stride (tests/test_trace_bounds.py): a stride of 10**12 is diagnosed
    huge = client.post("/api/layer", json={"op": "conv", "input": "100", "kernel": 3, "stride": "1000000000000"})
    assert "gap" in {f["code"] for f in huge.json()["findings"]}


# ----------------------------------------------------------------------------- /api/port
def test_port_is_convgeom_port(client: Any) -> None:
    body = {"op": "conv", "input": "224,224", "kernel": 3, "stride": 2, "padding": "same", "framework": "tensorflow",
            "in_channels": "3", "out_channels": "16"}
    data = client.post("/api/port", json=body).json()
    assert data["source"] == "tensorflow"
    for target in data["targets"]:
        expected = cg.port("conv", source="tensorflow", target=target["framework"], input=(224, 224), kernel=3,
                           stride=2, padding="same", in_channels=3, out_channels=16)
        assert target["code"] == expected.code and target["exact_for"] == expected.exact_for


@pytest.mark.parametrize("body, status, needle", [
    ({"op": "conv", "input": 100, "kernel": 3, "stride": 1000}, 422, "strides up to 32"),
    ({"op": "conv", "input": 1000, "kernel": 3, "dilation": 100}, 422, "dilated kernels up to 64"),
    ({"op": "max-pool", "input": 7, "kernel": 3, "in_channels": 4}, 400, "in_channels does not apply"),
    ({"op": "conv", "input": 7, "kernel": 3, "in_channels": "0"}, 400, "in_channels must be >= 1"),
    ({"op": "interpolate", "input": 7, "scale": 2}, 422, "cannot port"),
])
def test_port_refusals(client: Any, body: dict[str, Any], status: int, needle: str) -> None:
    response = client.post("/api/port", json=body)
    assert response.status_code == status and needle in one_line_error(response)


# ----------------------------------------------------------------------------- practice
def test_quiz_sends_no_answers_and_checks_them_from_the_key(client: Any) -> None:
    from convgeom import quiz

    data = client.get("/api/quiz", params={"count": 5, "seed": 7}).json()
    assert data["kinds"] == list(quiz.KINDS) and data["difficulties"] == list(quiz.DIFFICULTIES)
    expected = quiz.generate(count=5, seed=7)
    assert [e["key"] for e in data["exercises"]] == [e.key for e in expected]
    for sent, exercise in zip(data["exercises"], expected):
        assert "answer" not in sent and sent["question"] == exercise.question
        right = client.post("/api/quiz/check", json={"key": sent["key"], "answer": exercise.answer}).json()
        assert right["correct"] is True and right["explanation"] == exercise.explanation
        wrong = client.post("/api/quiz/check", json={"key": sent["key"], "answer": "-12345"}).json()
        assert wrong["correct"] is False and wrong["expected"] == quiz.check(exercise, "-12345").expected


@pytest.mark.parametrize("params, needle", [
    ({"count": 0}, "count must be >= 1"), ({"count": 51}, "larger than 50"), ({"count": "x"}, "not an integer"),
    ({"kind": "poetry"}, "poetry"), ({"framework": "caffe"}, "caffe"), ({"difficulty": "insane"}, "insane"),
    ({"seed": "-1"}, "seed must be >= 0"), ({"colour": "red"}, "unknown field 'colour'"),
])
def test_quiz_refusals(client: Any, params: dict[str, Any], needle: str) -> None:
    assert needle in one_line_error(client.get("/api/quiz", params=params))


@pytest.mark.parametrize("body, needle", [
    ({"key": "nonsense", "answer": "3"}, ""), ({"key": 3, "answer": "3"}, "key must be a string"),
    ({"answer": "3"}, "key must be a string"), ({"key": "x" * 3000, "answer": "3"}, "cap of 2,000"),
    ({"key": "a", "answer": "3", "extra": 1}, "unknown field 'extra'"),
])
def test_quiz_check_refusals(client: Any, body: dict[str, Any], needle: str) -> None:
    assert needle in one_line_error(client.post("/api/quiz/check", json=body))


# ----------------------------------------------------------------------------- /api/trace
@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [4, 1, 3, 3], [0.0] * 36)
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [2, 4, 3, 3], [0.0] * 72)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("MaxPool", ["a"], ["b"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Conv", ["b", "w2"], ["y"], kernel_shape=[3, 3])],
        "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path_factory.mktemp("onnx") / "small.onnx"
    onnx.save(model, str(path))
    return path


def test_trace_is_the_cli_trace_json(client: Any, small_onnx: Any) -> None:
    for shape in ("1,1,33,33", "2,1,65,40"):
        code, out, err = cli(["trace", str(small_onnx), "--input", shape, "--json"])
        assert code == 0, err
        response = client.post(f"/api/trace?input={shape}", content=small_onnx.read_bytes())
        assert response.status_code == 200, response.text
        assert response.json() == json.loads(out)
        layers = response.json()["layers"]
        assert [layer["op"] for layer in layers] == ["conv", "max_pool", "conv"]
        assert all(layer["receptive_field"] for layer in layers)
    code, out, err = cli(["trace", str(small_onnx), "--json"])  # dynamic sizes and no --input: refused
    assert code == 2
    assert one_line_error(client.post("/api/trace", content=small_onnx.read_bytes())) == \
        err.strip().removeprefix("convgeom: error: ")


def test_trace_refusals(client: Any, small_onnx: Any) -> None:
    data = small_onnx.read_bytes()
    assert "not an ONNX model" in one_line_error(client.post("/api/trace", content=b"\x00garbage" * 100))
    assert "empty" in one_line_error(client.post("/api/trace", content=b""))
    assert "pickle" not in one_line_error(client.post("/api/trace", content=b"\x80\x04\x95" + b"\x00" * 64))
    assert "is not a shape" in one_line_error(client.post("/api/trace?input=1,x", content=data))
    assert "positive" in one_line_error(client.post("/api/trace?input=1,1,0,33", content=data))
    assert "unknown query field" in one_line_error(client.post("/api/trace?model=a.py:build", content=data))
    refused = client.post("/api/trace?input=1,1,2,2", content=data)
    assert refused.status_code == 422 and one_line_error(refused)
    with TestClient(create_app(Limits(max_upload=1000)), base_url=BASE) as small:
        assert small.post("/api/trace", content=data + b"\x00" * 1000).status_code == 413


def test_a_slow_model_fails_only_its_own_request(small_onnx: Any) -> None:
    """A trace that outlives its time limit (here 10 ms: the child process alone takes longer to
    import ONNX) is killed, the request gets one line and the server keeps answering."""
    with TestClient(create_app(Limits(trace_seconds=0.01)), base_url=BASE) as limited:
        response = limited.post("/api/trace", content=small_onnx.read_bytes())
        assert "took longer than 0.01 s" in one_line_error(response)
        assert limited.post("/api/shape", json={"op": "conv", "input": 7, "kernel": 3}).status_code == 200


def test_work_past_its_time_limit_is_stopped_and_its_worker_replaced() -> None:
    slow = {"op": "max-pool", "input": "100,100,100", "kernel": 64, "stride": 32, "ceil_mode": True}
    with TestClient(create_app(Limits(work_seconds=0.5, workers=1)), base_url=BASE) as limited:
        assert "took longer than 0.5 s" in one_line_error(limited.post("/api/port", json=slow))
        assert limited.post("/api/layer", json={"op": "conv", "input": 7, "kernel": 3}).status_code == 200


def test_a_full_queue_is_busy_not_an_error() -> None:
    with TestClient(create_app(Limits(queue=0)), base_url=BASE) as busy:
        response = busy.post("/api/layer", json={"op": "conv", "input": 7, "kernel": 3})
        assert response.status_code == 429 and "busy" in one_line_error(response)
        assert busy.post("/api/shape", json={"op": "conv", "input": 7, "kernel": 3}).status_code == 200


def test_the_tracing_process_has_a_memory_limit() -> None:
    import subprocess
    import sys

    code = ("from convgeom.web.trace_worker import limit\nlimit(1024**3, 30)\n"
            "try:\n    bytearray(2 * 1024**3)\nexcept MemoryError:\n    print('refused')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "refused", proc.stderr


# ----------------------------------------------------------------------------- fuzz
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@st.composite
def any_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(LAYER_FIELDS + ("step", "view", "values", "in_channels", "bogus")),
                              max_size=8, unique=True)):
        body[name] = draw(JSON | FIELD_VALUES.get(name, st.text(max_size=10)))
    if draw(st.booleans()):
        body["op"] = draw(st.sampled_from(list(OPS)))
        body.setdefault("input", draw(FIELD_VALUES["input"]))
    return body


@settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["/api/shape", "/api/draw", "/api/layer", "/api/port", "/api/quiz/check"]), any_body())
def test_fuzz_never_500(client: Any, path: str, body: dict[str, Any]) -> None:
    response = client.post(path, json=body)
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        one_line_error(response)
