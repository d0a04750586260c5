"""Compare the convgeom engine with golden vectors recorded from the real frameworks.

The golden files are produced by ``tools/make_golden.py`` (TensorFlow/Keras 3, JAX, ONNX Runtime)
and committed under ``tests/golden``.  Each record is one executed configuration: either the
framework's output size plus the per-side padding inferred from the output VALUES, or the
exception the framework raised.  For every record we call the engine with
``framework=<fw>`` and check:

* rejection  <->  ``convgeom.GeometryError``;
* ``r.output`` equals the recorded output size;
* ``r.pad_before`` equals the inferred pad_before (axes recorded as null are not identifiable
  from the values and are skipped);
* TensorFlow records may also carry ``onednn_off`` (the portable Eigen kernels' result where
  it differs from oneDNN, the x86-64 default): matching either is accepted;
* records where the framework process crashed (``Crash: ...``) without an alternative are
  skipped;
* ``r.pad_after`` is consistent: for conv_transpose it must equal the recorded crop at the end
  (``pad_after_min``); for explicit padding it must equal the declared value ('valid': 0); for
  the other string modes without ceil mode it must lie in ``[u, u + stride - 1]`` where
  ``u = (o-1)*s + e - n - pad_before`` (i.e. it reproduces the output size; the end padding
  is not otherwise observable in the values).

Tests are parametrised per (framework, op); all mismatches of a chunk are collected and the first
20 are shown in the assertion message.
"""
from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
FRAMEWORKS = ("tensorflow", "jax", "onnx")
OPS = ("conv", "conv_transpose", "max_pool", "avg_pool")
MAX_SHOWN = 20

_cache: dict[str, list] = {}


def _records(fw):
    if fw not in _cache:
        path = GOLDEN_DIR / f"{fw}.json"
        if not path.exists():
            pytest.skip(f"golden file {path} not present (run tools/make_golden.py)")
        with open(path) as f:
            _cache[fw] = json.load(f)["records"]
    return _cache[fw]


class _Skip(Exception):
    """The record cannot be expressed through the engine API."""


def _engine():
    return pytest.importorskip("convgeom")


def _padding(cg, p):
    if isinstance(p, str):
        return p
    if isinstance(p, dict):
        if set(p) == {"raw"}:
            raw = getattr(cg, "RawPads", None)
            if raw is None:
                raise _Skip("convgeom.RawPads missing")
            return raw(tuple(tuple(int(v) for v in pair) for pair in p["raw"]))
        raise _Skip("pads together with auto_pad is not expressible")
    return tuple((int(a), int(b)) for a, b in p)


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(v.kind is v.VAR_KEYWORD for v in params.values())


def _call(cg, fw, rec):
    op = rec["op"]
    t = lambda v: None if v is None else tuple(int(x) for x in v)  # noqa: E731
    kw = {"stride": t(rec["stride"]), "padding": _padding(cg, rec["padding"]),
          "framework": fw}
    dil = t(rec["dilation"])
    if op == "conv":
        return cg.conv(t(rec["input"]), t(rec["kernel"]), dilation=dil, **kw)
    if op == "conv_transpose":
        return cg.conv_transpose(t(rec["input"]), t(rec["kernel"]), dilation=dil,
                                 output_padding=t(rec["output_padding"]),
                                 output_size=t(rec["output_size"]), **kw)
    if op == "max_pool":
        return cg.max_pool(t(rec["input"]), t(rec["kernel"]), dilation=dil,
                           ceil_mode=bool(rec["ceil_mode"]), **kw)
    if op == "avg_pool":
        extra = {}
        if any(v != 1 for v in dil):
            if not _accepts(cg.avg_pool, "dilation"):
                raise _Skip("convgeom.avg_pool has no dilation parameter")
            extra["dilation"] = dil
        return cg.avg_pool(t(rec["input"]), t(rec["kernel"]), ceil_mode=bool(rec["ceil_mode"]),
                           count_include_pad=rec["count_include_pad"], **extra, **kw)
    raise ValueError(op)


def _describe(rec):
    parts = [f"{rec['op']} n={rec['input']} k={rec['kernel']} s={rec['stride']}"
             f" d={rec['dilation']} pad={json.dumps(rec['padding'], separators=(',', ':'))}"]
    if rec.get("output_padding") is not None:
        parts.append(f"op={rec['output_padding']}")
    if rec.get("output_size") is not None:
        parts.append(f"out_size={rec['output_size']}")
    if rec.get("ceil_mode"):
        parts.append("ceil")
    if rec.get("count_include_pad") is not None:
        parts.append(f"cip={rec['count_include_pad']}")
    return " ".join(parts)


def _check(cg, fw, rec):
    """Return None if the engine agrees with the record, else a description of the mismatch.

    TensorFlow records may carry an ``onednn_off`` result (what the portable Eigen kernels do
    where they differ from oneDNN, the x86-64 default); the engine may match either.  A
    record whose framework process crashed with no alternative is skipped.
    """
    res = rec["result"]
    alternatives = [res] + ([rec["onednn_off"]] if "onednn_off" in rec else [])
    if all(a.get("error", "").startswith("Crash:") for a in alternatives):
        raise _Skip("framework process crashed (no defined result)")
    try:
        r = _call(cg, fw, rec)
        exc = None
    except _Skip:
        raise
    except cg.GeometryError as e:
        r, exc = None, e
    except Exception as e:  # noqa: BLE001
        return f"engine raised {type(e).__name__} (not GeometryError): {e}"
    msgs = [_compare(r, exc, alt, rec) for alt in alternatives]
    if any(m is None for m in msgs):
        return None
    if len(msgs) > 1:
        return f"{msgs[0]} (nor matches onednn_off: {msgs[1]})"
    return msgs[0]


def _compare(r, exc, res, rec):
    if exc is not None:
        if "error" in res:
            return None
        return f"framework output {res['output']}, engine raised GeometryError: {exc}"
    if "error" in res:
        return (f"framework rejected ({res['error'][:120]}), engine returned output="
                f"{tuple(r.output)} pad={tuple(r.pad)}")
    got = tuple(int(v) for v in r.output)
    want = tuple(res["output"])
    if got != want:
        return f"output {got} != framework {want}"
    pb = res.get("pad_before")
    if pb is None:
        return None
    rank = len(want)
    got_pb = tuple(r.pad_before)
    got_pa = tuple(r.pad_after)
    bad = [a for a in range(rank) if pb[a] is not None and got_pb[a] != pb[a]]
    if bad:
        return f"pad_before {got_pb} != framework {tuple(pb)} (axes {bad})"
    pam = res["pad_after_min"]
    n, s = rec["input"], rec["stride"]
    e = [d * (k - 1) + 1 for k, d in zip(rec["kernel"], rec["dilation"])]
    for a in range(rank):
        if pb[a] is None:
            continue
        if rec["op"] == "conv_transpose":
            if got_pa[a] != pam[a]:
                return (f"pad_after (end crop) {got_pa} inconsistent: framework output implies "
                        f"{tuple(pam)}")
            continue
        if isinstance(rec["padding"], list) or rec["padding"] == "valid":
            want_pa = 0 if rec["padding"] == "valid" else rec["padding"][a][1]
            if got_pa[a] != want_pa:
                return f"pad_after {got_pa} != declared {want_pa} on axis {a}"
            continue
        if rec.get("ceil_mode"):
            continue
        # Only the output size constrains the end padding of a string mode: with the
        # unclipped u = (o-1)*s + e - n - pad_before, (n + pb + pa - e)//s + 1 == o iff
        # u <= pa <= u + s - 1.  (ONNX Runtime really uses negative SAME pads when e < s.)
        u = (want[a] - 1) * s[a] + e[a] - n[a] - pb[a]
        if not (u <= got_pa[a] <= u + s[a] - 1):
            return (f"pad_after {got_pa} inconsistent with output {want} and pad_before "
                    f"{tuple(pb)} (axis {a}: need {u}..{u + s[a] - 1})")
    return None


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_golden(fw, op):
    records = [r for r in _records(fw) if r["op"] == op]
    cg = _engine()
    if not records:
        pytest.skip(f"no {op} records for {fw}")
    mismatches, skipped = [], {}
    for rec in records:
        try:
            msg = _check(cg, fw, rec)
        except _Skip as s:
            skipped[str(s)] = skipped.get(str(s), 0) + 1
            continue
        if msg is not None:
            mismatches.append(f"{_describe(rec)}: {msg}  [{rec['call']}]")
    if skipped:
        warnings.warn(f"{fw}/{op}: skipped records not expressible via the engine API: "
                      f"{skipped}", stacklevel=1)
    checked = len(records) - sum(skipped.values())
    assert not mismatches, (
        f"{len(mismatches)} of {checked} {fw} {op} golden records disagree with convgeom "
        f"(first {min(MAX_SHOWN, len(mismatches))}):\n  " + "\n  ".join(mismatches[:MAX_SHOWN]))


def test_golden_files_have_versions():
    for fw in FRAMEWORKS:
        path = GOLDEN_DIR / f"{fw}.json"
        if not path.exists():
            continue
        meta = json.loads(path.read_text())["meta"]
        assert meta["framework"] == fw
        assert meta["versions"], "library versions must be recorded"
        assert meta["count"] >= 2000
