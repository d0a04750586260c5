"""Findings: geometry problems in a traced model, each with a fix computed by the engine.

Per layer (conv / pooling / transposed conv; an ``F.pad``/``ZeroPadding`` feeding only this layer
is folded into its padding):

* ``dropped-input`` (warning): floor division leaves trailing input rows no window reads;
  fix: the extra after-padding (engine-checked) or the crop that avoids it.
* ``gap`` (warning): input positions between windows are never read (stride larger than the
  dilated kernel, or stride and dilation sharing a factor); fix: a kernel covering the stride.
* ``ceil-mode-window`` (warning): ``ceil_mode`` adds a last window that runs past the padded
  input (or starts in the padding); fix: explicit padding or an input size that needs no ceil.
* ``even-kernel-same`` (warning): 'same' padding with an even effective kernel is asymmetric.
* ``same-padding-differs`` (warning): for this input size TensorFlow/Keras 'same' and PyTorch's
  usual ``padding=(k-1)//2`` give the same output size but different pads: porting weights
  between them shifts every output by one pixel; fix: the exact ``F.pad`` that reproduces TF,
  ending with the layer's code from :func:`convgeom.port.finding_code`.
* ``checkerboard`` (warning): a transposed conv whose kernel is not divisible by its stride
  writes a periodic uneven number of contributions (Odena et al. 2016).
* ``aliasing`` (info): strided conv / max-pool subsamples without a low-pass (Zhang 2019).

Whole model:

* ``output-size-mismatch`` (warning): an encoder-decoder (it upsamples) whose output spatial
  size differs from its input; fix: the nearest input sizes that map to themselves.
* ``rf-smaller-than-input`` (info): no output unit sees the whole input along an axis.
* ``rf-exceeds-input`` (info): from some layer on the receptive field is already larger than
  the input; later spatial kernels mostly see padding ("unproductive" layers, rfa_toolbox).
* ``unused-parameters`` (info): parameters no traced op used.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import Optional

from .. import geometry as geo
from ..errors import GeometryError
from ..formatting import axis_labels, fraction
from ..geometry import AxisGeometry, LayerGeometry
from .failures import TraceFailure
from .records import Finding, LayerRecord, Trace
from .valid_sizes import SEARCH_LIMIT, Probe, nearest_sizes, with_axis


class _Axis:
    """One axis of a windowed layer with any folded-in explicit padding."""

    def __init__(self, ax: AxisGeometry, extra: tuple[int, int] = (0, 0)) -> None:
        self.geometry = ax
        self.n = ax.input - extra[0] - extra[1]
        self.k = ax.kernel
        self.s = ax.stride
        self.d = ax.dilation
        self.e = ax.effective_kernel
        self.pb = ax.pad_before + extra[0]
        self.pa = ax.pad_after + extra[1]
        self.o = ax.output
        self.folded = extra != (0, 0)


def _folded_pads(trace: Trace, rec: LayerRecord, g: LayerGeometry,
                 producers: dict[int, LayerRecord], consumers: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """The constant pad a lone ``pad`` record applies right before ``rec`` (per geometry axis)."""
    zero = tuple((0, 0) for _ in g.axes)
    if not rec.inputs:
        return zero
    src = producers.get(rec.inputs[0])
    if src is None or src.op != "pad" or src.padding is None or consumers.get(rec.inputs[0], 0) != 1:
        return zero
    if src.attr("pad_mode", "constant") not in ("constant", "zeros") or len(src.padding) != len(g.axes):
        return zero
    if any(b < 0 or a < 0 for b, a in src.padding):
        return zero
    return src.padding


def _dropped(ax: _Axis) -> int:
    """Trailing input positions no window reads (engine arithmetic on the folded pads)."""
    if not ax.folded:
        return ax.geometry.dropped
    g = geo.conv(ax.n, ax.k, ax.s, ((ax.pb, ax.pa),), ax.d, framework="onnx")
    return g.axes[0].dropped


def _extra_after_pad(ax: _Axis) -> Optional[int]:
    """The least ``x`` in ``1..s`` such that after-padding ``pa + x`` leaves no input unread
    (floor rounding, as ONNX Conv), or None. O(1): window ``o - 1`` is the last, and with
    ``o - 1 = (n + pb + pa + x - e) // s`` its last tap ``(o-1)*s - pb + e - 1`` reaches ``n - 1``
    iff ``o - 1 >= m = ceil((n + pb - e) / s)``, i.e. ``x >= m*s - (n + pb + pa - e)``; the answer
    is then checked once by the engine (it refuses pads it cannot apply)."""
    reach = ax.n + ax.pb - ax.e
    windows_needed = max(0, -(-reach // ax.s))
    extra = max(1, windows_needed * ax.s - reach - ax.pa)
    if extra > ax.s:
        return None
    try:
        g = geo.conv(ax.n, ax.k, ax.s, ((ax.pb, ax.pa + extra),), ax.d, framework="onnx")
    except GeometryError:
        return None
    return extra if g.axes[0].dropped == 0 else None


def _check_dropped(rec: LayerRecord, label: str, ax: _Axis, axis: int) -> Optional[Finding]:
    dropped = _dropped(ax)
    if dropped <= 0:
        return None
    extra = _extra_after_pad(ax)
    rows = "row" if dropped == 1 else "rows"
    fix = f"crop the input to {ax.n - dropped} along {label}"
    if extra is not None:
        fix = (f"pad {extra} more at the end (padding ({ax.pb}, {ax.pa + extra}) along {label}) so every input "
               f"position is read, or {fix}")
    return Finding(
        "dropped-input", "warning", rec.name,
        f"floor division drops the last {dropped} input {rows} along {label}: input {ax.n}, kernel {ax.k}, "
        f"stride {ax.s}, dilation {ax.d}, padding ({ax.pb}, {ax.pa}) -> {ax.o} windows, the last reads up to "
        f"index {ax.n - 1 - dropped}", fix, axis)


def _residues_read(k: int, s: int, d: int) -> int:
    """How many residues mod ``s`` the taps ``j*d`` (``0 <= j < k``) hit: ``min(k, s/gcd(d, s))``.
    The taps' residues are the multiples of ``g = gcd(d, s)``; ``j -> j*d mod s`` has period
    ``s/g`` in ``j`` and is one-to-one within a period."""
    return min(k, s // math.gcd(d, s))


def _check_gap(rec: LayerRecord, label: str, ax: _Axis, axis: int) -> Optional[Finding]:
    if ax.s <= 1:
        return None
    read = _residues_read(ax.k, ax.s, ax.d)
    if read == ax.s:
        return None
    missing = ax.s - read
    why = (f"stride {ax.s} > dilated kernel {ax.e}" if ax.s > ax.e
           else f"stride {ax.s} and dilation {ax.d} leave residues unread")
    return Finding(
        "gap", "warning", rec.name,
        f"{missing} of every {ax.s} input positions along {label} are never read ({why}; kernel {ax.k})",
        f"use a kernel >= stride (k >= {ax.s}{'' if ax.d == 1 else ' with dilation 1'}), or low-pass/average "
        f"before subsampling (e.g. AvgPool{ax.s} then a stride-1 conv, as in ResNet-D)", axis)


def _taps_inside(start: int, k: int, d: int, n: int) -> int:
    """Taps ``start + j*d`` (``0 <= j < k``) inside ``[0, n)``: ``j`` runs from
    ``max(0, ceil(-start/d))`` to ``min(k-1, floor((n-1-start)/d))``."""
    first = max(0, -(start // d))
    last = min(k - 1, (n - 1 - start) // d)
    return max(0, last - first + 1)


def _check_ceil(rec: LayerRecord, label: str, ax: _Axis, axis: int) -> Optional[Finding]:
    g = ax.geometry
    if not g.ceil_mode:
        return None
    floor = (ax.n + ax.pb + ax.pa - ax.e) // ax.s + 1
    if ax.o <= floor:
        return None
    start = (ax.o - 1) * ax.s - ax.pb
    inside = _taps_inside(start, ax.k, ax.d, ax.n)
    where = "starts in the padding and reads no input" if start >= ax.n or inside == 0 else (
        f"starts at input index {start} and reads {inside} of its {ax.k} taps inside the input")
    target = ax.n + (-(ax.n + ax.pb + ax.pa - ax.e)) % ax.s  # the least size >= n where floor == ceil
    return Finding(
        "ceil-mode-window", "warning", rec.name,
        f"ceil_mode adds window {ax.o - 1} along {label}, which runs past the padded input ({ax.n} + {ax.pb} + "
        f"{ax.pa}) and {where}",
        f"use ceil_mode=False with padding ({ax.pb}, {ax.pa + (target - ax.n)}), or an input of {target} along "
        f"{label} where floor and ceil agree", axis)


def _check_even_same(rec: LayerRecord, g: LayerGeometry, labels: tuple[str, ...]) -> list[Finding]:
    p = g.padding
    if p.kind != "string" or p.name not in ("same", "same_lower"):
        return []
    out = []
    for axis, ax in enumerate(g.axes):
        if ax.effective_kernel % 2 == 0 and ax.pad_before != ax.pad_after:
            out.append(Finding(
                "even-kernel-same", "warning", rec.name,
                f"padding={p.name!r} with even effective kernel {ax.effective_kernel} pads asymmetrically "
                f"({ax.pad_before}, {ax.pad_after}) along {labels[axis]}: the output is shifted by half a pixel",
                "use an odd kernel, or pad explicitly (F.pad / ZeroPadding) to choose the side", axis))
    return out


def _check_same_port(rec: LayerRecord, label: str, ax: _Axis, axis: int) -> Optional[Finding]:
    """'same'-like layers where TF SAME and PyTorch's symmetric (e-1)//2 disagree on the pads."""
    if ax.s <= 1 or ax.o != -(-ax.n // ax.s):
        return None
    pa = ax.pa
    if ax.geometry.ceil_mode:  # the extra ceil-mode window acts as implicit padding at the end
        pa = max(pa, (ax.o - 1) * ax.s + ax.e - ax.n - ax.pb)
    try:
        tf = geo.conv(ax.n, ax.k, ax.s, "same", ax.d, framework="jax").axes[0]
    except GeometryError:
        return None
    p = (ax.e - 1) // 2
    try:
        pt = geo.conv(ax.n, ax.k, ax.s, p, ax.d, framework="torch").axes[0]
    except GeometryError:
        return None
    if tf.output != pt.output or tf.output != ax.o or tf.pad_before == pt.pad_before:
        return None
    severity = "info"
    if (ax.pb, pa) == (tf.pad_before, tf.pad_after):
        uses = "this layer pads like TensorFlow"
        fix = (f"keep the explicit asymmetric pad ({tf.pad_before}, {tf.pad_after}); a PyTorch padding={p} "
               f"would shift every output by {p - tf.pad_before} px")
    elif (ax.pb, pa) == (pt.pad_before, pt.pad_after):
        uses = "this layer pads like PyTorch"
        fix = (f"to match TensorFlow/Keras exactly: F.pad the input by ({tf.pad_before}, {tf.pad_after}) along "
               f"{label}, then use padding=0")
    else:
        uses = f"this layer pads ({ax.pb}, {pa}), like neither"
        severity = "warning"
        fix = f"choose TF's ({tf.pad_before}, {tf.pad_after}) or PyTorch's ({p}, {p}) to match the source model"
    return Finding(
        "same-padding-differs", severity, rec.name,
        f"for input {ax.n} along {label} TensorFlow/Keras 'same' pads ({tf.pad_before}, {tf.pad_after}) but "
        f"PyTorch padding={p} pads ({p}, {p}): both give {ax.o}, sampling grids {abs(p - tf.pad_before)} px apart; "
        f"{uses} (weights ported between the two shift every pixel)", fix, axis)


def _with_ported_code(finding: Finding, g: LayerGeometry, axes: list[_Axis]) -> Finding:
    """A layer that pads like PyTorch where TensorFlow's 'same' pads otherwise: its fix ends with
    the code (from :func:`convgeom.port.finding_code`) that reproduces TensorFlow's pads."""
    if "pads like TensorFlow" in finding.message:
        return finding
    from ..port import finding_code

    try:
        code = finding_code(g, input=tuple(a.n for a in axes))
    except GeometryError:
        return finding
    return replace(finding, fix=f"{finding.fix}; as code: {code}")


def _check_static_same(rec: LayerRecord, label: str, ax: _Axis, axis: int) -> Optional[Finding]:
    """An explicit asymmetric pad before a strided layer (TF-style "static same" padding, as in
    efficientnet-pytorch) that does not match TF 'same' for the actual input size."""
    if not ax.folded or ax.s <= 1 or ax.pb == ax.pa:
        return None
    try:
        tf = geo.conv(ax.n, ax.k, ax.s, "same", ax.d, framework="jax").axes[0]
    except GeometryError:
        return None
    if (tf.pad_before, tf.pad_after) == (ax.pb, ax.pa):
        return None
    return Finding(
        "static-same-padding", "warning", rec.name,
        f"the explicit pad ({ax.pb}, {ax.pa}) looks like TensorFlow 'same' computed for another input size: for "
        f"{ax.n} along {label} TF pads ({tf.pad_before}, {tf.pad_after}) and gives {tf.output}, this layer gives "
        f"{ax.o}", "compute the padding from the actual input size at run time (dynamic 'same' padding, e.g. timm's "
        "pad_same), or feed the input size the padding was computed for", axis)


def transposed_contributions(k: int, s: int, d: int) -> tuple[int, int]:
    """Fewest and most kernel taps a transposed conv (kernel ``k``, stride ``s``, dilation ``d``)
    writes to one output position away from the borders, O(1).

    Output ``y`` receives tap ``j`` of input ``i`` when ``y = i*s + j*d - pad``: the taps landing
    on ``y`` are the ``j < k`` with ``j*d = y + pad (mod s)``. With ``g = gcd(d, s)`` and
    ``q = s/g``, a residue that ``g`` does not divide gets none (so the fewest is 0 when
    ``g > 1``), and each of the other ``q`` residues gets one class of ``j`` mod ``q``:
    ``k // q`` or ``k // q + 1`` taps. The pattern has period ``s`` and is even iff ``g == 1``
    and ``k % s == 0`` (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts")."""
    q = s // math.gcd(d, s)
    most = -(-k // q)
    fewest = 0 if q < s else k // q
    return fewest, most


def _check_checkerboard(rec: LayerRecord, label: str, ax: AxisGeometry, axis: int) -> Optional[Finding]:
    s, k, d = ax.stride, ax.kernel, ax.dilation
    if s <= 1:
        return None
    fewest, most = transposed_contributions(k, s, d)
    if fewest == most:
        return None
    better = k + (-k) % s
    if k % s == 0:  # even in k: the dilation leaves residues no tap reaches
        g = math.gcd(d, s)
        return Finding(
            "checkerboard", "warning", rec.name,
            f"transposed conv dilation {d} shares the factor {g} with stride {s} along {label}: output positions "
            f"receive {fewest} or {most} contributions in a period-{s} pattern (checkerboard artifacts, "
            "Odena et al. 2016)",
            "use a dilation coprime to the stride (e.g. 1), or upsample (nearest/bilinear) then a stride-1 conv",
            axis)
    return Finding(
        "checkerboard", "warning", rec.name,
        f"transposed conv kernel {k} is not divisible by stride {s} along {label}: output positions receive "
        f"{fewest} or {most} contributions in a period-{s} pattern (checkerboard artifacts, "
        "Odena et al. 2016)",
        f"use kernel {better} (a multiple of the stride), or upsample (nearest/bilinear) then a stride-1 conv", axis)


def _aliasing(rec: LayerRecord, g: LayerGeometry, labels: tuple[str, ...]) -> Optional[Finding]:
    strided = [labels[i] for i, ax in enumerate(g.axes) if ax.stride > 1]
    if not strided or g.op not in ("conv", "max_pool"):
        return None
    what = "strided convolution" if g.op == "conv" else "max-pooling"
    return Finding(
        "aliasing", "info", rec.name,
        f"{what} subsamples by {'x'.join(str(ax.stride) for ax in g.axes)} without low-pass filtering: "
        "small input shifts change the output (aliasing, Zhang 2019)",
        "blur before subsampling (BlurPool: a [1, 2, 1] binomial filter at stride 1, then subsample; Zhang 2019 "
        "'Making Convolutional Networks Shift-Invariant Again')")


def _layer_findings(trace: Trace) -> list[Finding]:
    producers: dict[int, LayerRecord] = {}
    consumers: dict[int, int] = {}
    for rec in trace.layers:
        for t in rec.outputs:
            producers[t] = rec
        for t in rec.inputs:
            consumers[t] = consumers.get(t, 0) + 1
    out: list[Finding] = []
    for rec in trace.layers:
        for g in rec.geometry:
            if not isinstance(g, LayerGeometry):
                continue
            labels = axis_labels(g.ndim)
            if g.op == "conv_transpose":
                found = [f for axis, ax in enumerate(g.axes) if (f := _check_checkerboard(rec, labels[axis], ax, axis))]
                out.extend(combine_axes(found, labels))
                continue
            if g.op not in ("conv", "max_pool", "avg_pool"):
                continue
            extra = _folded_pads(trace, rec, g, producers, consumers)
            axes = [_Axis(ax_g, ex) for ax_g, ex in zip(g.axes, extra)]
            for check in (_check_dropped, _check_gap, _check_ceil, _check_same_port, _check_static_same):
                found = [f for axis, ax in enumerate(axes) if (f := check(rec, labels[axis], ax, axis))]
                found = combine_axes(found, labels)
                if check is _check_same_port:
                    found = [_with_ported_code(f, g, axes) for f in found]
                out.extend(found)
            out.extend(combine_axes(_check_even_same(rec, g, labels), labels))
            alias = _aliasing(rec, g, labels)
            if alias:
                out.append(alias)
    return out


# ---------------------------------------------------------------------------------------------
def _output_size(trace: Trace, axis: int) -> Optional[int]:
    rf = trace.receptive_field
    if rf is None or axis >= len(rf.dims):
        return None
    d = rf.dims[axis]
    return None if d is None else trace.output_shape[d]


def _input_size(trace: Trace, axis: int) -> int:
    return trace.input_shape[trace.input_spatial_dims[axis]]


def same_size_inputs(trace: Trace, probe: Probe, axis: int, limit: int = SEARCH_LIMIT) -> tuple[Optional[int], Optional[int]]:
    """Nearest input sizes along ``axis`` (others fixed) whose output keeps that size."""
    dim = trace.input_spatial_dims[axis]
    shapes = [tuple(s) for s in trace.input_shapes]

    def keeps_size(size: int) -> bool:
        try:
            t = probe(with_axis(shapes, dim, size))
        except TraceFailure:
            return False
        return _output_size(t, axis) == size

    return nearest_sizes(trace.input_shape[dim], keeps_size, limit)


def _model_findings(trace: Trace, probe: Optional[Probe]) -> list[Finding]:
    labels = trace.spatial_axes
    return (combine_axes(_size_mismatch(trace, probe), labels) + combine_axes(_rf_small(trace), labels)
            + combine_axes(_rf_exceeds(trace), labels) + _unused(trace))


def _size_mismatch(trace: Trace, probe: Optional[Probe]) -> list[Finding]:
    out: list[Finding] = []
    rf = trace.receptive_field
    labels = trace.spatial_axes
    n_axes = len(trace.input_spatial_dims)
    upsamples = any(r.op in ("conv_transpose", "interpolate", "pixel_shuffle") for r in trace.layers)
    if rf is not None and upsamples:
        for a in range(n_axes):
            o = _output_size(trace, a)
            n = _input_size(trace, a)
            if o is None or o == n:
                continue
            fix = "crop or pad the output to the input size"
            if probe is not None:
                lo, hi = same_size_inputs(trace, probe, a)
                sizes = [str(v) for v in (lo, hi) if v is not None]
                if sizes:
                    fix = f"use input size {' or '.join(sizes)} along {labels[a]} (output = input there), or {fix}"
            out.append(Finding(
                "output-size-mismatch", "warning", trace.layers[-1].name if trace.layers else "",
                f"the model upsamples but maps input {n} to output {o} along {labels[a]}: the output does not align "
                "with the input pixel grid", fix, a))
    return out


def _rf_small(trace: Trace) -> list[Finding]:
    out: list[Finding] = []
    rf = trace.receptive_field
    labels = trace.spatial_axes
    n_axes = len(trace.input_spatial_dims)
    if rf is not None:
        for a in range(n_axes):
            if rf.dims[a] is None:
                continue
            n = _input_size(trace, a)
            r = rf.fields[a].size
            if r < n:
                s_max = max((rec.receptive_field.fields[a].stride for rec in trace.layers
                             if rec.receptive_field is not None and rec.receptive_field.dims[a] is not None),
                            default=Fraction(1))
                more = math.ceil((n - r) / (2 * s_max))
                context = (" (global statistics such as instance/group norm or squeeze-excitation still reach "
                           "everywhere)" if rf.global_context else "")
                out.append(Finding(
                    "rf-smaller-than-input", "info", trace.layers[-1].name if trace.layers else "",
                    f"each output unit sees {fraction(r)} of the {n} input positions along {labels[a]} (effective stride "
                    f"{fraction(rf.fields[a].stride)}): no output unit sees the whole input{context}",
                    f"each extra 3x3 conv at the deepest level (effective stride {fraction(s_max)}) adds {fraction(2 * s_max)}: "
                    f"about {more} more would let the centre unit see everything (r >= {n}; every unit needs "
                    f"r >= {2 * n - 1}); or add dilation / another downsampling stage", a))
    return out


def _rf_exceeds(trace: Trace) -> list[Finding]:
    out: list[Finding] = []
    labels = trace.spatial_axes
    for a in range(len(trace.input_spatial_dims)):
        n = _input_size(trace, a)
        first: Optional[LayerRecord] = None
        later: list[str] = []
        for rec in trace.layers:
            field = rec.receptive_field
            if field is None or field.dims[a] is None:
                continue
            if first is None:
                if field.fields[a].size > n:
                    first = rec
                continue
            if rec.kernel is not None and len(rec.kernel) > a and rec.kernel[a] > 1 and rec.op in ("conv", "max_pool", "avg_pool", "conv_transpose"):
                later.append(rec.name)
        if first is not None and later:
            frf = first.receptive_field
            assert frf is not None
            shown = ", ".join(later[:3]) + (f" and {len(later) - 3} more" if len(later) > 3 else "")
            out.append(Finding(
                "rf-exceeds-input", "info", first.name,
                f"from {first.name} on the receptive field ({fraction(frf.fields[a].size)}) exceeds the input ({n}) "
                f"along {labels[a]}; {len(later)} later layer(s) with spatial kernels ({shown}) mostly see padding "
                "('unproductive' layers)",
                f"trace/train at a larger input (>= {fraction(frf.fields[a].size)}), or use 1x1 kernels after "
                f"{first.name}", a))
    return out


def _unused(trace: Trace) -> list[Finding]:
    out: list[Finding] = []
    used = sum(r.params for r in trace.layers)
    if used < trace.params:
        out.append(Finding(
            "unused-parameters", "info", "",
            f"{trace.params - used} of {trace.params} parameters are not used by this forward pass",
            "remove the unused modules or check the forward path"))
    return out


def combine_axes(per_axis: list[Finding], labels: tuple[str, ...]) -> list[Finding]:
    """One finding instead of one per axis when every axis says the same thing (same code and
    layer, same message and fix once the axis name is taken out)."""
    if len(per_axis) < 2 or any(f.axis is None or f.axis >= len(labels) for f in per_axis):
        return per_axis

    def key(f: Finding) -> tuple[str, str, str, str]:
        tag = f"along {labels[f.axis or 0]}"
        return f.code, f.layer, f.message.replace(tag, "along _"), f.fix.replace(tag, "along _")

    first = key(per_axis[0])
    if any(key(f) != first for f in per_axis[1:]):
        return per_axis
    f0 = per_axis[0]
    tag = f"along {labels[f0.axis or 0]}"
    names = "along " + " and ".join(labels[f.axis or 0] for f in per_axis)
    return [Finding(f0.code, f0.severity, f0.layer, f0.message.replace(tag, names), f0.fix.replace(tag, names), None)]


def diagnose(trace: Trace, probe: Optional[Probe] = None) -> list[Finding]:
    """All layer and model findings for ``trace``; ``probe`` re-traces other input shapes to
    compute fixes such as the nearest input size that keeps the output size."""
    return _layer_findings(trace) + _model_findings(trace, probe)
