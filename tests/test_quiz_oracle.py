"""Every exercise's stated answer against the engine (through the command line, from the
exercise's own ``params``) and against the real frameworks: live PyTorch (the code in the
question, evaluated and run), live ONNX Runtime (the node in the question, built and run), live
Keras 3 (on its torch backend; convgeom models Keras on TensorFlow, and the two agree on every
layer the quiz asks about), and, for receptive fields, the gradient of one output unit.

``CONVGEOM_QUIZ_SEEDS`` (default 70) exercises per kind, framework and difficulty: 210 per kind
and framework.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from typing import Any, Union

import pytest

from convgeom.cli import main
from convgeom.quiz import DIFFICULTIES, FRAMEWORKS, Exercise
from convgeom.quiz.answers import read
from convgeom.quiz.exercise import build

SEEDS = int(os.environ.get("CONVGEOM_QUIZ_SEEDS", "70"))
CODE = re.compile(r"`([^`]+)`")
INPUT_SHAPE = re.compile(r"(?:input|tensor|x) of shape (\([0-9, ]+\))")
LAYER_FIELDS = ("op", "input", "kernel", "stride", "padding", "dilation", "output_padding", "ceil_mode", "framework")

Outcome = Union[tuple[int, ...], str]

_CACHE: dict[tuple[str, str], list[Exercise]] = {}


def exercises(kind: str, framework: str) -> list[Exercise]:
    """SEEDS exercises per difficulty, the same on every run."""
    if (kind, framework) not in _CACHE:
        _CACHE[kind, framework] = [build(kind, framework, d, 1_000_003 * s + 17)
                                   for d in DIFFICULTIES for s in range(SEEDS)]
    return _CACHE[kind, framework]


# ----- the engine, through the command line ----------------------------------------------------
def shape(params: dict[str, str], prefix: str = "", **override: str) -> Union[dict[str, Any], str]:
    """``convgeom shape --json`` of the layer in ``params`` (fields under ``prefix``): its JSON,
    or its one error line."""
    fields = {name: params[prefix + name] for name in LAYER_FIELDS if prefix + name in params}
    for name in ("input", "framework"):
        fields.setdefault(name, params[name])
    fields.update(override)
    argv = ["shape", fields.pop("op")]
    for name, value in fields.items():
        if name == "ceil_mode":
            argv.append("--ceil-mode")
        else:
            argv.append(f"--{name.replace('_', '-')}={value}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv + ["--json"])
    if code == 0:
        return dict(json.loads(out.getvalue()))
    assert code == 2 and len(err.getvalue().splitlines()) == 1, (argv, err.getvalue())
    return err.getvalue().strip()


def expected(exercise: Exercise) -> Any:
    return read(exercise, exercise.answer)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", ["output_size", "pool_ceil"])
def test_output_sizes_are_the_engines(kind: str, framework: str) -> None:
    for e in exercises(kind, framework):
        result = shape(e.params)
        assert isinstance(result, dict), (e.key, result)
        assert tuple(result["output"]) == expected(e), e.key
        assert not [c for c in CODE.findall(e.question) if "?" in c], e.key  # nothing left to find


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_padding_is_the_engines_and_unique(framework: str) -> None:
    for e in exercises("same_padding", framework):
        if "padding" in e.params:  # the per-side split of a 'same' layer
            result = shape(e.params)
            assert isinstance(result, dict), (e.key, result)
            assert tuple(zip(result["pad_before"], result["pad_after"])) == expected(e), e.key
            continue
        # "which padding keeps the size": the answer does, and no other padding does
        p = expected(e)[0][0]
        for candidate in range(0, 12):
            result = shape(e.params, padding=str(candidate))
            keeps = isinstance(result, dict) and result["output"] == result["input"]
            assert keeps == (candidate == p), (e.key, candidate)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_mapping_has_exactly_one_right_option(framework: str) -> None:
    for e in exercises("mapping", framework):
        target = tuple(int(v) for v in e.params["output"].split(","))
        hits = []
        for letter in "ABCD":
            result = shape(e.params, prefix=f"{letter}.")
            assert isinstance(result, dict), (e.key, letter, result)  # every option is a layer the framework takes
            out = tuple(result["output"])
            if out == target or (len(target) == 1 and set(out) == set(target)):
                hits.append(letter)
        assert hits == [e.answer], e.key
        assert len(set(e.choices)) == 4


def cli_ints(text: str, ndim: int) -> tuple[int, ...]:
    """A per-axis command-line value, one per axis."""
    values = tuple(int(v) for v in text.split(","))
    return values * ndim if len(values) == 1 else values


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_transposed_answers_are_the_engines(framework: str) -> None:
    for e in exercises("transpose", framework):
        if "output" not in e.params:  # output size of a transposed convolution
            result = shape(e.params)
            assert isinstance(result, dict), (e.key, result)
            assert tuple(result["output"]) == expected(e), e.key
            continue
        # the output_padding that restores the forward input: it does, and it is the only one
        forward = shape(e.params, prefix="forward.")
        assert isinstance(forward, dict), (e.key, forward)
        assert tuple(forward["output"]) == cli_ints(e.params["input"], len(forward["output"])), e.key
        want = expected(e)[0]
        taken = 0
        for v in range(0, 6):
            result = shape(e.params, output_padding=str(v))
            restores = isinstance(result, dict) and result["output"] == forward["input"]
            assert restores == (v == want), (e.key, v)
            taken += isinstance(result, dict)
        assert taken >= 2, e.key  # the framework has an output_padding to choose


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_raises_answers_are_the_engines(framework: str) -> None:
    answers = {"yes": 0, "no": 0}
    for e in exercises("raises", framework):
        result = shape(e.params)
        if expected(e):
            assert isinstance(result, str), e.key
            assert e.answer.startswith("yes: ") and e.answer[5:] in result, (e.key, result)
            answers["yes"] += 1
        else:
            assert isinstance(result, dict), (e.key, result)
            assert e.answer == "no: output " + (str(result["output"][0]) if len(result["output"]) == 1
                                                else str(tuple(result["output"]))), e.key
            answers["no"] += 1
    assert min(answers.values()) > len(exercises("raises", framework)) // 4, answers


def test_every_stack_layer_is_one_the_framework_takes() -> None:
    """A configuration the framework refuses appears only in 'does this raise' exercises (the
    other kinds' tests run their layers through ``convgeom shape``; this does the stacks')."""
    for framework in FRAMEWORKS:
        for e in exercises("receptive_field", framework):
            i = 1
            while f"layer{i}.op" in e.params:
                assert isinstance(shape(e.params, prefix=f"layer{i}."), dict), (e.key, i)
                i += 1
            assert i >= 3, e.key


# ----- live PyTorch ---------------------------------------------------------------------------
torch = pytest.importorskip("torch")
nn = torch.nn


def _torch_run(code: str, shape_: tuple[int, ...]) -> Outcome:
    try:
        module = eval(code, {"nn": nn, "torch": torch})  # the question's own code
        with torch.no_grad():
            return tuple(module(torch.zeros(shape_)).shape[2:])
    except Exception as exc:  # noqa: BLE001 - any refusal counts
        return f"{type(exc).__name__}: {exc}"


def _input_shape(text: str) -> tuple[int, ...]:
    match = INPUT_SHAPE.search(text)
    assert match, text
    return tuple(int(v) for v in match.group(1).strip("()").split(",") if v.strip())


def _filled(code: str, answer: str) -> str:
    """The code with every ``?`` replaced by the (single-valued) answer."""
    return code.replace("?", answer)


def _stated(pattern: str, text: str) -> tuple[int, ...]:
    match = re.search(pattern + r" (\([0-9, ]+\)|[0-9]+)", text)
    assert match, text
    return tuple(int(v) for v in match.group(1).strip("()").split(",") if v.strip())


@pytest.mark.parametrize("kind", ["output_size", "pool_ceil", "transpose", "same_padding", "raises"])
def test_torch_runs_the_question_as_answered(kind: str) -> None:
    functional = torch.nn.functional
    for e in exercises(kind, "torch"):
        codes = CODE.findall(e.question)
        x = _input_shape(e.question)
        if kind == "raises":
            outcome = _torch_run(codes[0], x)
            assert isinstance(outcome, str) == expected(e), (e.key, codes[0], x, outcome)
        elif kind == "same_padding" and "?" in codes[0]:
            assert _torch_run(_filled(codes[0], e.answer), x) == x[2:], e.key
        elif kind == "same_padding":
            # F.pad with the stated split, then a padding=0 conv, computes what padding='same' does
            module = eval(codes[0], {"nn": nn})
            data = torch.randn(x, generator=torch.Generator().manual_seed(0))
            pads = tuple(v for pair in reversed(expected(e)) for v in pair)
            conv = getattr(functional, f"conv{len(x) - 2}d")
            with torch.no_grad():
                got = conv(functional.pad(data, pads), module.weight, module.bias, module.stride, 0, module.dilation)
                assert torch.allclose(got, module(data), atol=1e-5), e.key
        elif kind == "transpose" and "output" in e.params:
            forward, back = codes[:2]
            down = _torch_run(forward, x)
            assert isinstance(down, tuple) and down == _stated("It gives spatial size", e.question) * (
                len(down) if len(_stated("It gives spatial size", e.question)) == 1 else 1), e.key
            channels = int(re.match(r"nn.ConvTranspose\dd\((\d+)", back)[1])  # type: ignore[index]
            assert _torch_run(_filled(back, e.answer), (1, channels) + down) == x[2:], e.key
        else:
            assert _torch_run(codes[0], x) == expected(e), (e.key, codes[0], x)


def test_torch_mapping_options_run_as_answered() -> None:
    for e in exercises("mapping", "torch"):
        x = _input_shape(e.question)
        target = tuple(int(v) for v in e.params["output"].split(","))
        target = target * (len(x) - 2) if len(target) == 1 else target
        outs = [_torch_run(choice, x) for choice in e.choices]
        assert [o == target for o in outs] == [letter == e.answer for letter in "ABCD"], (e.key, outs)


# ----- receptive fields: the gradient of one output unit ---------------------------------------
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
PADS = (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d)


def _probe(module: Any, nd: int) -> Any:
    """The layer as a one-channel, all-ones, bias-free convolution with the same geometry, so
    every input cell in a unit's receptive field gets a positive gradient (a max pool would
    pass it to one cell only)."""
    if isinstance(module, PADS):
        return module
    if not isinstance(module, POOLS) and not isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        raise AssertionError(f"unexpected layer {module}")
    conv = getattr(nn, f"Conv{nd}d")(1, 1, module.kernel_size, module.stride, module.padding,
                                     getattr(module, "dilation", 1), bias=False)
    nn.init.ones_(conv.weight)
    return conv


def _measure(layers: list[Any], nd: int) -> tuple[int, int, int]:
    """(size, jump, start of unit 0) of the last layer along axis 0, from the gradients of two
    neighbouring units in the middle of the input. A dilated layer leaves holes, so a receptive
    field cut off by the input's edge can look whole: the input doubles until two sizes agree."""
    net = nn.Sequential(*[_probe(m, nd) for m in layers])
    previous = None
    for n in (64, 128, 256, 512, 1024, 2048):
        x = torch.zeros((1, 1) + (n,) * nd, requires_grad=True)
        try:
            y = net(x)
        except RuntimeError:  # a later kernel larger than what is left of the probe input
            continue
        if y.shape[2] < 3:
            continue
        spans = []
        for u in (y.shape[2] // 2, y.shape[2] // 2 + 1):
            x.grad = None
            y[(0, 0, u) + tuple(y.shape[i] // 2 for i in range(3, y.dim()))].backward(retain_graph=True)
            read = torch.nonzero(x.grad.abs().sum(dim=tuple(i for i in range(x.dim()) if i != 2))).flatten()
            spans.append((int(read[0]), int(read[-1])))
        (a, b), (c, _) = spans
        found = (b - a + 1, c - a, a - (y.shape[2] // 2) * (c - a))
        if found == previous:
            return found
        previous = found
    raise AssertionError("receptive field larger than the probe input")


def _engine_layers(e: Exercise, nd: int) -> list[Any]:
    """Each layer as the engine pads it (``convgeom shape``) in front of an unpadded convolution."""
    layers: list[Any] = []
    i = 1
    while f"layer{i}.op" in e.params:
        r = shape(e.params, prefix=f"layer{i}.")
        assert isinstance(r, dict), (e.key, r)
        pads = tuple(v for b, a in reversed(list(zip(r["pad_before"], r["pad_after"]))) for v in (b, a))
        layers.append(getattr(nn, f"ConstantPad{nd}d")(pads, 0.0))
        layers.append(getattr(nn, f"Conv{nd}d")(1, 1, tuple(r["kernel"]), tuple(r["stride"]), 0, tuple(r["dilation"])))
        i += 1
    return layers


def test_receptive_fields_match_the_gradient() -> None:
    """For PyTorch the question's own modules; for the others each layer with the engine's
    per-side pads. Every third exercise (a probe runs a few convolutions on up to 512 cells)."""
    for framework in FRAMEWORKS:
        for e in exercises("receptive_field", framework)[::3]:
            nd = len(_input_shape(e.question)) - 2
            if framework == "torch":
                layers = [eval(code, {"nn": nn}) for code in CODE.findall(e.question)]
            else:
                layers = _engine_layers(e, nd)
            size, jump, start = _measure(layers, nd)
            what = "size" if "wide" in e.question else ("jump" if "apart" in e.question else "start")
            want = {"size": size, "jump": jump, "start": start}[what]
            assert expected(e) == (want,) * nd, (e.key, what, size, jump, start)


# ----- live ONNX Runtime ----------------------------------------------------------------------
def _onnx_node(op: str) -> Any:
    def make(**attrs: Any) -> tuple[str, dict[str, Any]]:
        return op, attrs
    return make


ONNX_NAMES = {name: _onnx_node(name) for name in ("Conv", "ConvTranspose", "MaxPool", "AveragePool")}


def _ort_run(code: str, x: tuple[int, ...]) -> Outcome:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    np = pytest.importorskip("numpy")
    h = onnx.helper
    op, attrs = eval(code, dict(ONNX_NAMES))
    inputs, inits = ["x"], []
    if op in ("Conv", "ConvTranspose"):
        w_shape = ((1, x[1]) if op == "Conv" else (x[1], 1)) + tuple(attrs["kernel_shape"])
        inits.append(h.make_tensor("w", onnx.TensorProto.FLOAT, list(w_shape), [1.0] * int(np.prod(w_shape))))
        inputs.append("w")
    graph = h.make_graph([h.make_node(op, inputs, ["y"], **attrs)], "g",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x))],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 19)])
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return tuple(session.run(None, {"x": np.zeros(x, np.float32)})[0].shape[2:])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/InvalidArgument types
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@pytest.mark.parametrize("kind", ["output_size", "pool_ceil", "transpose", "same_padding", "raises", "mapping"])
def test_onnx_runtime_runs_the_question_as_answered(kind: str) -> None:
    pytest.importorskip("onnxruntime")
    for e in exercises(kind, "onnx")[::2]:
        codes = CODE.findall(e.question)
        if kind == "mapping":
            x = tuple(int(v) for v in re.search(r"input of shape (\([0-9, ]+\))", e.question)[1]  # type: ignore[index]
                      .strip("()").split(","))
            target = tuple(int(v) for v in e.params["output"].split(","))
            target = target * (len(x) - 2) if len(target) == 1 else target
            outs = [_ort_run(c, x) for c in e.choices]
            assert [o == target for o in outs] == [letter == e.answer for letter in "ABCD"], (e.key, outs)
            continue
        x = _input_shape(e.question)
        if kind == "raises":
            outcome = _ort_run(codes[0], x)
            assert isinstance(outcome, str) == expected(e), (e.key, codes[0], x, outcome)
        elif kind == "same_padding" and "?" in codes[0]:
            assert _ort_run(_filled(codes[0], e.answer), x) == x[2:], e.key
        elif kind == "same_padding":
            # auto_pad's output equals explicit pads of the stated split
            pairs = expected(e)
            pads = [b for b, _ in pairs] + [a for _, a in pairs]
            explicit = re.sub(r'auto_pad="[A-Z_]+"', f"pads={pads}", codes[0])
            assert _ort_run(codes[0], x) == _ort_run(explicit, x), e.key
        elif kind == "transpose" and "output" in e.params:
            forward, back = codes[:2]
            down = _ort_run(forward, x)
            assert isinstance(down, tuple)
            assert _ort_run(_filled(back, e.answer), (1, 1) + down) == x[2:], e.key
        else:
            assert _ort_run(codes[0], x) == expected(e), (e.key, codes[0], x)


# ----- live Keras 3 ---------------------------------------------------------------------------
def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _keras_run(code: str, x: tuple[int, ...]) -> Outcome:
    keras = _keras()
    np = pytest.importorskip("numpy")
    try:
        layer = eval(code, {"keras": keras})
        return tuple(int(v) for v in layer(np.zeros(x, "float32")).shape[1:-1])
    except Exception as exc:  # noqa: BLE001 - any refusal counts
        return f"{type(exc).__name__}: {exc}"


def _pool_size(code: str) -> tuple[int, ...]:
    size = eval(re.search(r"pool_size=(\([0-9, ]+\)|[0-9]+)", code)[1])  # type: ignore[index]
    return size if isinstance(size, tuple) else (size,) * 3


@pytest.mark.parametrize("kind", ["output_size", "pool_ceil", "transpose", "raises", "mapping"])
def test_keras_runs_the_question_as_answered(kind: str) -> None:
    _keras()
    for e in exercises(kind, "tensorflow")[::4]:
        codes = CODE.findall(e.question)
        if kind == "mapping":
            x = tuple(int(v) for v in re.search(r"input of shape (\([0-9, ]+\))", e.question)[1]  # type: ignore[index]
                      .strip("()").split(","))
            target = tuple(int(v) for v in e.params["output"].split(","))
            target = target * (len(x) - 2) if len(target) == 1 else target
            outs = [_keras_run(c, x) for c in e.choices]
            assert [o == target for o in outs] == [letter == e.answer for letter in "ABCD"], (e.key, outs)
            continue
        x = _input_shape(e.question)
        if "AveragePooling3D" in codes[0] and any(n < k for n, k in zip(x[1:-1], _pool_size(codes[0]))):
            continue  # Keras's torch backend runs avg_pool3d, which needs n >= k; TensorFlow does not
        if kind == "raises":
            outcome = _keras_run(codes[0], x)
            assert isinstance(outcome, str) == expected(e), (e.key, codes[0], x, outcome)
        elif kind == "transpose" and "output" in e.params:
            forward, back = codes[:2]
            down = _keras_run(forward, x)
            assert isinstance(down, tuple)
            assert _keras_run(_filled(back, e.answer), (1,) + down + (1,)) == x[1:-1], e.key
        else:
            assert _keras_run(codes[0], x) == expected(e), (e.key, codes[0], x)

