"""Golden-vector generator: records what the REAL TensorFlow/Keras 3, JAX and ONNX Runtime do.

Usage::

    python tools/make_golden.py [--framework tensorflow|jax|onnx|all] [--count N]
                                [--seed S] [--out tests/golden] [--no-ops] [--jobs J]
    python -m tools.golden ...      (the same, from the repository root)

Deterministic for a given seed and library versions (the committed files were made with the
defaults: --count 2400 --seed 20240521), except where oneDNN is: its float32 conv2d results in
tensorflow_ops.json can differ in the last bit between CPUs, and the few garbage oneDNN Conv3D
outputs noted below come and go (on an AVX2-only AMD EPYC the 3 such tensorflow.json records
came out correct, and onednn_off_differs 170 instead of 173).  jax.json and onnx.json
reproduce byte for byte.  Set GOLDEN_VERBOSE=1 to print every record.

Requirements (install into a separate virtualenv, NOT into the project environment)::

    python -m venv /tmp/goldenvenv
    /tmp/goldenvenv/bin/pip install tensorflow-cpu keras jax jaxlib onnx onnxruntime numpy

Versions used for the committed files (any recent version should run; the exact versions are
recorded in the "meta" object of every output file)::

    tensorflow-cpu 2.21.0, keras 3.15.1, jax/jaxlib 0.10.2 (newest on the mirror used),
    onnx 1.23.2, onnxruntime 1.31.1 (opset 21), numpy 2.4.6, Python 3.11.7.

Run time on 2 idle cores: onnx ~20 s, tensorflow ~1.5 min, jax ~2 min (XLA compiles every
config).  Every framework runs in worker subprocesses (``python -m tools.golden --worker``):
TensorFlow and XLA kill the process (SIGFPE, abort) on some configs; such a config is recorded
as {"error": "Crash: process killed by signal ..."} and the worker is restarted.  TensorFlow is
run twice per config, with oneDNN on (the recorded result) and off ("onednn_off" where the two
differ).

Layout (one module per job; only the runners import a framework, and only in a worker)::

    schema.py     what a configuration, an item and a record are; constants
    configs.py    the seeded configuration draws per framework (no framework needed)
    calls.py      the framework call of a configuration, as data: run by the runners and
                  described in the record's "call"
    numeric.py    the NHWC numeric cases of tensorflow_ops.json
    data.py       seeded separable data and weights
    reference.py  direct NumPy reference ops
    inference.py  pad_before inference from the output values
    runners/      one runner per framework (TensorFlow/Keras, JAX, ONNX Runtime)
    isolation.py  crash-isolated worker processes, oneDNN on/off pairs
    writing.py    notes, meta and the files' JSON layout
    cli.py        command line and driver

Output files (compact JSON; "records" holds one record per line)::

    tests/golden/tensorflow.json   Keras 3 layers on the TensorFlow backend, eager layer(x)
    tests/golden/jax.json          jax.lax.conv_general_dilated / conv_transpose / reduce_window
    tests/golden/onnx.json         onnxruntime InferenceSession, one tiny model per config
    tests/golden/tensorflow_ops.json  numeric NHWC cases (tf.nn.conv2d / max_pool2d / avg_pool2d)

Record schema (one JSON object per record)::

    {"op": "conv"|"conv_transpose"|"max_pool"|"avg_pool",
     "input": [n1, ...], "kernel": [...], "stride": [...], "dilation": [...],
     "padding": "valid"|"same"|"same_lower"|"causal"|"full"|[[before, after], ...]
                | {"raw": [[lo, hi], ...]}                  (jax conv_transpose raw lax pads)
                | {"auto_pad": "...", "pads": [[b, a], ...]} (onnx: both given -> invalid),
     "output_padding": [...] | null, "output_size": [...] | null,
     "ceil_mode": bool, "count_include_pad": bool | null,
     "call": "<what was executed>",
     "result": {"output": [...], "pad_before": [...], "pad_after_min": [...], ...}
             | {"error": "ExceptionType: first line of message"}}

How ``pad_before`` is obtained: the op is run on seeded random data (and random weights). The
data is a rank-1 (separable) tensor  x = a_1 (x) a_2 (x) ...  and the weights likewise, so the
framework's output is the outer product of 1-D results.  For every axis and every candidate
pad_before a direct NumPy 1-D implementation is evaluated; candidates whose 1-D result is
proportional to the corresponding fibre of the framework output survive, and the surviving
combinations are checked exactly (allclose) against the whole framework output.  The unique
match is then re-verified with a direct N-D NumPy loop implementation.  Nothing is computed from
an output-size formula.  Max pooling is run twice, on strictly increasing and on strictly
decreasing positive factors (a window's max is then its last / first in-input tap), because
the max of random data pins down a window's position only weakly.  An axis whose pad_before
is not identifiable from the values (e.g. a max-pool window covering the whole input for
several offsets, or an all-zero conv output) gets null (listed in result.ambiguous_axes); an
empty output gets pad_before null; if no candidate reproduces the values, result.inference
says so.  Average pools also record which divisor rule reproduced the values
(result.divisor).  Extra per-record keys: "symbolic"/"symbolic_disagrees" and "onednn_off"
(tensorflow), "shape_inference" (onnx, where onnx.shape_inference disagrees with ORT).

For conv_transpose, pad_before is the crop at the start of the full transposed output
(length (n-1)*s + d*(k-1) + 1): output index y corresponds to full index y + pad_before.
pad_after_min = full_length - o - pad_before (negative = extra zeros at the end).
For forward ops pad_after_min = max(0, (o-1)*s + e - n - pad_before).
"""
