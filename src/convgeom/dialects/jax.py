"""JAX ``lax``: ``conv_general_dilated``, ``conv_transpose`` and ``reduce_window``
(``jax/_src/lax/lax.py padtype_to_pads``, ``convolution.py _conv_transpose_padding``,
``windowed_reductions.py``). Checked against golden vectors recorded from real JAX
(``tests/golden/jax.json``)."""

from __future__ import annotations

from ..arithmetic import windowed_output
from ..padding import PadSplit, explicit_split, jax_transpose_split, same_split
from ..params import Padding
from .base import AxisPlan, Dialect, Plan, Request, fmt

EMPTY_NOTE = "a window larger than the padded input gives an empty (size 0) axis, not an error"


class Jax(Dialect):
    """``lax`` never errors on a too-small input: the output is empty (0). Explicit pads may be
    negative (they crop)."""

    name = "jax"
    label = "JAX lax"

    def _splits(self, r: Request, window: tuple[int, ...]) -> list[PadSplit]:
        """Per-side pads. conv_general_dilated refuses crops larger than the axis;
        reduce_window does not check (the axis just comes out empty)."""
        p = r.padding
        if p.kind == "raw":
            raise self.reject("RawPads only apply to conv_transpose", "", "use (before, after) pairs")
        if p.kind == "string":
            return self._string_splits(r, p, window)
        splits = self.pad_splits_from_pairs(r, allow_negative=True)
        for axis, (n, sp) in enumerate(zip(r.input, splits)):
            if r.op == "conv" and n + sp.before + sp.after < 0:
                raise self.reject(
                    f"negative padding {(sp.before, sp.after)} removes more than the {n} cells on axis {axis}",
                    "Negative padding is larger than the size of the corresponding dimension",
                    f"crop at most {n} cells in total", axis)
        return splits

    def _string_splits(self, r: Request, p: Padding, window: tuple[int, ...]) -> list[PadSplit]:
        """``padtype_to_pads``: 'SAME' / 'SAME_LOWER' as TF SAME (extra cell after / before)."""
        if p.name not in ("valid", "same", "same_lower"):
            raise self.reject(
                f"padding={p.name!r} is not a lax padding type",
                "Unrecognized padding type: expected 'VALID', 'SAME', or 'SAME_LOWER'",
                "give explicit (before, after) pairs, e.g. causal = ((d*(k-1), 0),)",
            )
        if p.name == "valid":
            return [explicit_split(0, 0, "'VALID'") for _ in r.input]
        lower = p.name == "same_lower"
        return [same_split(n, s, e, extra_before=lower, label="'SAME_LOWER'" if lower else "'SAME'")
                for n, s, e in zip(r.input, r.stride, window)]

    def _windowed(self, r: Request, notes: tuple[str, ...] = ()) -> Plan:
        splits = self._splits(r, r.effective_kernel)
        axes = tuple(
            AxisPlan(sp.before, sp.after, windowed_output(n, sp.before, sp.after, e, s, "floor_clamped"), sp.note,
                     rounding="floor_clamped")
            for n, sp, e, s in zip(r.input, splits, r.effective_kernel, r.stride)
        )
        return Plan(axes, notes + ((EMPTY_NOTE,) if any(a.output == 0 for a in axes) else ()))

    def conv(self, r: Request) -> Plan:
        return self._windowed(r)

    # ----- transposed convolution ---------------------------------------------------------
    def conv_transpose(self, r: Request) -> Plan:
        self.check_no_output_padding(r)
        if r.output_size is not None:
            raise self.reject("lax.conv_transpose has no output_size", "", "choose padding for the size you want")
        axes = []
        for axis, (n, e, s) in enumerate(zip(r.input, r.effective_kernel, r.stride)):
            dilated = (n - 1) * s + 1
            pads = self._transpose_pads(r, axis, n, e, s)
            if dilated + pads.before + pads.after < 0:
                raise self.reject(
                    f"pads {(pads.before, pads.after)} remove more than the dilated input ({dilated}) on axis {axis}",
                    "Negative padding is larger than the size of the corresponding dimension", "use smaller crops",
                    axis)
            out = max(0, dilated + pads.before + pads.after - e + 1)
            crop_before, crop_after = e - 1 - pads.before, e - 1 - pads.after
            axes.append(AxisPlan(crop_before, crop_after, out,
                                 f"{pads.note}; crop of the full output = (e-1-lo, e-1-hi) = "
                                 f"({crop_before}, {crop_after})", rounding="exact"))
        return Plan(tuple(axes))

    def _transpose_pads(self, r: Request, axis: int, n: int, e: int, s: int) -> PadSplit:
        """Pads ``(lo, hi)`` on the stride-dilated input: 'SAME'/'VALID' by
        ``_conv_transpose_padding``, RawPads as given; 'SAME_LOWER' only at stride 1, where
        ``conv_general_dilated`` gets a plain convolution."""
        p = r.padding
        if p.kind == "string" and p.name in ("same", "valid"):
            return jax_transpose_split(e, s, p.name)
        if p.kind == "raw":
            lo, hi = p.pairs[axis]
            return PadSplit(lo, hi, f"raw pads on the stride-dilated input: lo = {lo}, hi = {hi}")
        if p.kind == "string" and p.name == "same_lower":
            if any(st != 1 for st in r.stride):
                raise self.reject(f"padding='SAME_LOWER' with stride {fmt(r.stride)}",
                                  "String padding is not implemented for transposed convolution using this op",
                                  "use 'same' or 'valid', or give RawPads")
            return same_split(n, 1, e, extra_before=True, label="'SAME_LOWER' (stride 1: a plain convolution)")
        raise self.reject(
            f"padding {p.describe()} is ambiguous for lax.conv_transpose",
            "lax.conv_transpose takes 'SAME', 'VALID' or pads on the stride-dilated input",
            "use 'same'/'valid' or convgeom.RawPads(((lo, hi), ...))",
        )

    # ----- pooling ------------------------------------------------------------------------
    def _pool(self, r: Request, kind: str) -> Plan:
        if r.ceil_mode:
            raise self.reject("lax.reduce_window has no ceil mode", "no ceil_mode",
                              "use 'same' padding or add after-padding explicitly")
        plan = self._windowed(r, ("'SAME' is computed on the undilated operand with the dilated window",))
        if kind != "avg":
            return plan
        from dataclasses import replace  # here, not at the top: a cold start needs no dataclasses

        cip = True if r.count_include_pad is None else r.count_include_pad
        return replace(plan, count_include_pad=cip, notes=plan.notes + (
            "lax.reduce_window(add) sums; dividing by the window size counts pads (flax avg_pool default)" if cip
            else "divide by the in-bounds count (Keras-on-JAX behaviour)",))

    def max_pool(self, r: Request) -> Plan:
        return self._pool(r, "max")

    def avg_pool(self, r: Request) -> Plan:
        return self._pool(r, "avg")
