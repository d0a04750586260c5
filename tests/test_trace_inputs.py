"""Bad arguments and failing user code: one line each (a GeometryError or TypeError naming the
argument, or a UserCodeError naming what ran and where), before any framework does work."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
nn = torch.nn

import convgeom.tracing as ct  # noqa: E402
from convgeom.errors import UserCodeError  # noqa: E402


def _net():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, stride=2, padding=1))


def one_line(exc_info):
    text = str(exc_info.value)
    assert text and "\n" not in text
    return text


@pytest.mark.parametrize("shape", [(1, 3, 10**30, 8), (1, 3, 2**40, 2**40), [[1, 3, 8, 8]] * 100, (1,) * 17])
def test_absurd_shapes_are_one_line_errors(shape):
    with pytest.raises(ct.GeometryError) as info:
        ct.trace(_net(), shape)
    assert "input_shape" in one_line(info)


@pytest.mark.parametrize("shape, kind", [((1, 3, 8.0, 8), TypeError), ((1, 3, True, 8), TypeError), ("1,3,8,8", TypeError),
                                         ((1, 3, 0, 8), ct.GeometryError), ((1, 3, -8, 8), ct.GeometryError),
                                         ((), ct.GeometryError), (7, TypeError), ({"x": 1}, TypeError)])
def test_wrong_shapes_name_the_argument(shape, kind):
    with pytest.raises(kind) as info:
        ct.trace(_net(), shape)
    assert "input_shape" in one_line(info)


def test_an_integer_array_is_a_shape_and_a_float_tensor_an_example_input():
    t = ct.trace(_net(), np.array([1, 3, 8, 8]))
    assert t.input_shape == (1, 3, 8, 8) and t.output_shape == (1, 2, 4, 4)
    assert ct.trace(_net(), torch.zeros(1, 3, 6, 6), findings=False).output_shape == (1, 2, 3, 3)
    assert ct.trace(_net(), (np.int64(1), 3, np.int32(8), 8), findings=False).input_shape == (1, 3, 8, 8)


@pytest.mark.parametrize("kwargs, kind, name", [
    ({"dtype": "int8"}, ct.GeometryError, "dtype"), ({"dtype": 16}, TypeError, "dtype"),
    ({"framework": 3}, TypeError, "framework"), ({"framework": "caffe"}, ct.GeometryError, "framework"),
    ({"framework": "jax"}, ct.GeometryError, "jax"), ({"findings": "yes"}, TypeError, "findings"),
])
def test_other_trace_arguments(kwargs, kind, name):
    with pytest.raises(kind) as info:
        ct.trace(_net(), (1, 3, 8, 8), **kwargs)
    assert name in one_line(info)


def test_valid_input_sizes_refuses_fractional_and_unbounded_sizes():
    with pytest.raises(TypeError) as info:
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), [3.5])
    assert "sizes" in one_line(info)
    with pytest.raises(ct.GeometryError) as info:
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), range(3, 100_000_000))
    assert "more than 1024 sizes" in one_line(info)
    with pytest.raises(ct.GeometryError):
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), itertools.count(1))  # read no further than the cap
    with pytest.raises(ct.GeometryError) as info:
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), [0, 4])
    assert ">= 1" in one_line(info)
    with pytest.raises(TypeError):
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), [4, 8], axes=[0.5])
    with pytest.raises(ct.GeometryError):
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), [4, 8], axes=[2])
    with pytest.raises(ct.GeometryError) as info:  # every size is checked like an input shape
        ct.valid_input_sizes(_net(), (1, 3, 8, 8), [2**30])
    assert "elements" in one_line(info)
    result = ct.valid_input_sizes(_net(), (1, 3, 8, 8), range(1, 1025))
    assert len(result.tried) == 1024 and result.nearest(7) == (7, 7)
    with pytest.raises(TypeError):
        result.nearest(7.5)


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3)

    def forward(self, x):
        if x.shape[-1] % 2:
            raise ValueError("this model wants an even width")
        return self.conv(x)


def test_a_forward_that_raises_is_one_line_naming_the_users_file():
    with pytest.raises(UserCodeError) as info:
        ct.trace(_Raises(), (1, 3, 9, 9))
    text = one_line(info)
    assert text.startswith("the forward pass of _Raises raised ValueError: this model wants an even width")
    assert f"{__file__}:" in text and isinstance(info.value.__cause__, ValueError)
    # the nearest-size search and the diagnostics treat the model's refusal like a failing layer
    assert ct.valid_input_sizes(_Raises(), (1, 3, 8, 8), [8, 9, 10]).valid == (8, 10)
    assert ct.trace(_Raises(), (1, 3, 8, 8)).output_shape == (1, 3, 6, 6)


def test_a_forward_that_raises_gives_no_traceback_on_the_command_line(tmp_path):
    src = tmp_path / "broken_net.py"
    src.write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def forward(self, x):
                return x.undefined_method()
        def build():
            return Net()
    """))
    run = subprocess.run([sys.executable, "-m", "convgeom", "trace", f"{src}:build", "--input", "1,3,8,8"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "raised AttributeError" in lines[0] and "broken_net.py:5" in lines[0]


@pytest.mark.parametrize("module, suffix, extra", [("keras", ".keras", "keras"), ("onnx", ".onnx", "onnx"),
                                                    ("torch", "", "torch")])
def test_a_missing_framework_is_one_line_naming_the_extra(tmp_path, module, suffix, extra):
    target = repr(str(tmp_path / f"model{suffix}")) if suffix else "'x'"
    code = textwrap.dedent(f"""
        import sys
        sys.modules[{module!r}] = None
        import convgeom
        try:
            convgeom.trace({target}, (1, 3, 8, 8), framework={module!r} if {module!r} == "torch" else None)
        except convgeom.GeometryError as exc:
            print(exc)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines() == [run.stdout.strip()] and f"pip install 'convgeom[{extra}]'" in run.stdout


def test_a_broken_keras_file_is_one_line(tmp_path):
    pytest.importorskip("keras")
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ct.GeometryError) as info:
        ct.trace(str(bad), (1, 8, 8, 3))
    assert "cannot read Keras file" in one_line(info)


def test_a_keras_layer_whose_code_raises_is_user_code():
    keras = pytest.importorskip("keras")

    class Picky(keras.layers.Layer):
        def call(self, x):
            if x.shape[1] == 9:
                raise RuntimeError("no 9 rows")
            return x

    model = keras.Sequential([keras.Input((None, None, 3)), Picky(name="picky")])
    assert ct.trace(model, (1, 8, 8, 3)).output_shape == (1, 8, 8, 3)
    with pytest.raises(UserCodeError) as info:
        ct.trace(model, (1, 9, 9, 3))
    assert "layer picky (Picky) raised RuntimeError" in one_line(info) and isinstance(info.value.__cause__, RuntimeError)


def test_summary_checks_its_arguments():
    t = ct.trace(_net(), (1, 3, 8, 8), findings=False)
    assert ct.summary(t, depth=0).splitlines()[0] == "Sequential (torch)"
    with pytest.raises(TypeError) as info:
        ct.summary("not a trace")
    assert "Trace" in one_line(info)
    with pytest.raises(ct.GeometryError) as info:
        ct.summary(t, depth=-1)
    assert "depth" in one_line(info)
    with pytest.raises(TypeError):
        ct.summary(t, depth=1.5)
