"""Fuzzing the Python API of tracing: ``trace`` and ``valid_input_sizes`` with arguments of every
type and size must return a result or raise GeometryError / TypeError with a one-line message.

Each case runs in one long-lived child process with its address space capped
(``resource.setrlimit``) and a time budget per case (``signal.alarm``): a case that allocates
gigabytes or runs away fails the test instead of taking the machine down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MEMORY_LIMIT = 4 << 30  # bytes of address space for the child
SECONDS_PER_CASE = 20

WORKER = textwrap.dedent(f"""
    import itertools, json, resource, signal, sys
    resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
    import numpy as np
    import onnx
    import torch
    import torch.nn as nn
    from onnx import helper, numpy_helper
    import convgeom
    from convgeom import GeometryError

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], strides=[2, 2]),
         helper.make_node("Relu", ["a"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], initializer=[w])
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx_model.ir_version = 8
    models = {{"torch": net, "onnx": onnx_model}}

    def alarm(signum, frame):
        raise TimeoutError("case over its time budget")

    signal.signal(signal.SIGALRM, alarm)
    print("ready", flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        signal.alarm({SECONDS_PER_CASE})
        try:
            args = eval(case["args"], {{"np": np, "torch": torch, "itertools": itertools}})
            kwargs = eval(case["kwargs"], {{"np": np, "torch": torch, "itertools": itertools}})
            fn = getattr(convgeom, case["fn"])
            result = fn(models[case["model"]], *args, **kwargs)
            out = {{"ok": type(result).__name__}}
        except (GeometryError, TypeError) as exc:
            out = {{"error": type(exc).__name__, "message": str(exc)}}
        except BaseException as exc:
            out = {{"crash": type(exc).__name__, "message": str(exc)[:500]}}
        finally:
            signal.alarm(0)
        print(json.dumps(out), flush=True)
""")


@pytest.fixture(scope="module")
def worker():
    proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def run(worker, fn, model, args, kwargs="{}"):
    worker.stdin.write(json.dumps({"fn": fn, "model": model, "args": args, "kwargs": kwargs}) + "\n")
    worker.stdin.flush()
    line = worker.stdout.readline()
    assert line, "the child process died (memory limit or crash)"
    return json.loads(line)


# ----- argument strategies: Python source the child evaluates ---------------------------------
_ints = st.one_of(st.integers(-3, 40), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2**31, 2**63, 10**30]))
_scalars = st.one_of(_ints.map(str), st.sampled_from(["10**400", "-10**5000", "2**4096 + 1"]), st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"float({str(f)!r})"),
                     st.sampled_from(["True", "None", "'8'", "b'8'", "np.int64(8)", "np.float32(8)", "[]", "()"]))
_dims = st.lists(_scalars, min_size=0, max_size=6).map(lambda xs: "(" + "".join(x + ", " for x in xs) + ")")
_shape = st.one_of(
    st.tuples(st.sampled_from([1, 2]), st.sampled_from([3, 4]), st.integers(1, 40), st.integers(1, 40))
    .map(lambda s: repr(tuple(s))),
    _dims,
    st.lists(_dims, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    _ints.map(str),
    st.sampled_from(["None", "'1,3,8,8'", "np.array([1, 3, 8, 8])", "np.array([[1, 3, 8, 8]])", "np.zeros((1, 3, 5, 5))",
                     "torch.zeros(1, 3, 6, 6)", "torch.tensor([1, 3, 9, 9])", "{'x': 1}", "np.array([1.5, 3, 8, 8])",
                     "[[1, 3, 8, 8]] * 70", "(1, 3) + (2,) * 20"]),
)
_sizes = st.one_of(
    st.lists(_scalars, max_size=8).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.tuples(_ints, _ints).map(lambda ab: f"range({ab[0]}, {ab[1]})"),
    st.sampled_from(["range(3, 100_000_000)", "itertools.count()", "'abc'", "None", "5", "[3.5]", "range(1, 1025)"]),
)
_kwargs = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(["'float16'", "'int8'", "16", "'half'", "None", "'bfloat16'"]),
    "framework": st.sampled_from(["'torch'", "'onnx'", "'keras'", "'jax'", "'caffe'", "3", "None", "'PyTorch'"]),
}).map(lambda d: "{" + ", ".join(f"{k!r}: {v}" for k, v in d.items()) + "}")


def _check(out):
    assert "crash" not in out, out
    if "error" in out:
        message = out["message"]
        assert message and "\n" not in message and len(message) < 2000, out


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(model=st.sampled_from(["torch", "onnx"]), shape=_shape, kwargs=_kwargs,
       findings=st.sampled_from(["", ", findings=False", ", findings='no'"]))
def test_trace_fuzz(worker, model, shape, kwargs, findings):
    _check(run(worker, "trace", model, f"({shape},)", kwargs[:-1] + (", " if kwargs != "{}" else "")
               + findings.lstrip(", ").replace("=", ": ").replace("findings", "'findings'") + "}"))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(model=st.sampled_from(["torch", "onnx"]), shape=_shape, sizes=_sizes,
       axes=st.sampled_from(["", "'axes': [0]", "'axes': [5]", "'axes': [0.5]", "'axes': 'a'", "'axes': [1, 0]"]))
def test_valid_input_sizes_fuzz(worker, model, shape, sizes, axes):
    _check(run(worker, "valid_input_sizes", model, f"({shape}, {sizes})", "{" + axes + "}"))


def test_the_fuzz_harness_sees_crashes(worker):
    """The harness itself: a case outside the contract is reported, not hidden."""
    assert run(worker, "trace", "torch", "((1, 3, 8, 8),)")["ok"] == "Trace"
    out = run(worker, "trace", "torch", "((1, 3, 8, 8),)", "{'no_such_argument': 1}")
    assert out["error"] == "TypeError"  # an unexpected keyword: Python's own one-line TypeError
    assert "crash" in run(worker, "trace", "torch", "(1 / 0,)")
