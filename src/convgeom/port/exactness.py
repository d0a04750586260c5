"""For which input sizes a port computes the same function as its source.

A port is built for one input size. Where the source's padding depends on the input size
(TensorFlow/ONNX 'same' with stride > 1, a ceil-mode pool's last window) the fixed code is
exact only for some sizes. Both layers are asked, through the engine, what they compute for
every size in a scan (the small sizes ``1 .. e + 4s`` and ``n - 2s .. n + 2s`` around the
ported size, one axis at a time, the other axes kept); the exact sizes are then summarised as
"all" or per axis as ``n % m in {residues}`` from a least size on, a rule that is checked
against every scanned size before it is stated (otherwise the exact sizes are listed). A scan
of more than :data:`MAX_SCAN_SIZES` sizes per axis is refused before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from ..arithmetic import effective_kernel
from ..errors import GeometryError
from .spec import LayerSpec

Sizes = tuple[int, ...]

MAX_SCAN_SIZES = 5_000
"""Cap on the input sizes scanned per axis (about ``e + 4s``, plus ``4s + 1`` around the ported
size ``n``): each costs an engine call per proposal, so a larger stride or dilated kernel is
refused before the scan."""
SpecAt = Callable[[Sizes], LayerSpec]


@dataclass(frozen=True)
class AxisRule:
    """Input sizes along one axis where the port is exact: ``n % modulus in residues and
    n >= minimum``, or one of the few small sizes ``also`` (where the pattern starts late), or
    exactly ``sizes`` when no such rule fits the scan."""

    axis: int
    modulus: int = 1
    residues: tuple[int, ...] = (0,)
    minimum: int = 1
    sizes: Optional[tuple[int, ...]] = None
    also: tuple[int, ...] = ()

    def holds(self, n: int) -> bool:
        if self.sizes is not None:
            return n in self.sizes
        return n in self.also or (n >= self.minimum and n % self.modulus in self.residues)

    def __str__(self) -> str:
        name = f"n{self.axis}"
        if self.sizes is not None:
            return f"{name} in {{{', '.join(map(str, self.sizes))}}}"
        parts = []
        if self.modulus > 1:
            parts.append(f"{name} % {self.modulus} == {self.residues[0]}" if len(self.residues) == 1
                         else f"{name} % {self.modulus} in {{{', '.join(map(str, self.residues))}}}")
        if self.minimum > 1:
            parts.append(f"{name} >= {self.minimum}")
        rule = " and ".join(parts) if parts else f"any {name}"
        if not self.also:
            return rule
        return f"({rule}) or {name} in {{{', '.join(map(str, self.also))}}}"

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "modulus": self.modulus, "residues": list(self.residues),
                "minimum": self.minimum, "sizes": None if self.sizes is None else list(self.sizes),
                "also": list(self.also)}


@dataclass(frozen=True)
class ExactRule:
    """Per-axis rules (empty: exact for every input size the source accepts)."""

    axes: tuple[AxisRule, ...] = ()

    @property
    def all(self) -> bool:
        return not self.axes

    def holds(self, input: Sizes) -> bool:
        return all(rule.holds(input[rule.axis]) for rule in self.axes)

    def __str__(self) -> str:
        return "all" if self.all else " and ".join(str(r) for r in self.axes)


class Scanner:
    """Caches the source's spec per input size across the candidates of one port."""

    def __init__(self, source_at: SpecAt, input: Sizes) -> None:
        self._source_at = source_at
        self.input = input
        self._cache: dict[Sizes, Optional[LayerSpec]] = {}

    def source(self, sizes: Sizes) -> Optional[LayerSpec]:
        if sizes not in self._cache:
            try:
                self._cache[sizes] = self._source_at(sizes)
            except GeometryError:
                self._cache[sizes] = None  # the source refuses this size: nothing to match
        return self._cache[sizes]

    def sizes(self, axis: int, spec: LayerSpec) -> list[int]:
        """The scan along ``axis``: ``1 .. e + 4s`` and ``n - 2s .. n + 2s``, at most
        :data:`MAX_SCAN_SIZES` sizes (refused before the scan is built)."""
        small, (low, high) = _scan_ranges(spec, axis)
        return sorted(set(small) | set(range(low, high + 1)))

    def check(self, spec: LayerSpec) -> None:
        """Refuse, in O(1), a port whose scan along some axis exceeds :data:`MAX_SCAN_SIZES`."""
        for axis in range(spec.ndim):
            count = scan_count(spec, axis)
            if count > MAX_SCAN_SIZES:
                a = spec.axes[axis]
                raise GeometryError(
                    f"checking this port's exactness scans {count} input sizes along axis {axis} (1 .. e + 4s and "
                    f"n - 2s .. n + 2s, stride s = {a.stride}), more than the cap of {MAX_SCAN_SIZES}",
                    fix="port a layer with a smaller stride and kernel (e + 4*stride well under the cap)")

    def rule(self, target_at: SpecAt, spec: LayerSpec) -> ExactRule:
        rules = []
        for axis in range(spec.ndim):
            accepted, exact = [], []
            for m in self.sizes(axis, spec):
                sizes = self.input[:axis] + (m,) + self.input[axis + 1:]
                want = self.source(sizes)
                if want is None:
                    continue
                accepted.append(m)
                try:
                    if target_at(sizes) == want:
                        exact.append(m)
                except GeometryError:
                    pass
            if exact != accepted:
                rules.append(_fit(axis, accepted, exact, spec.axes[axis].stride))
        return ExactRule(tuple(rules))


def _scan_ranges(spec: LayerSpec, axis: int) -> tuple[range, tuple[int, int]]:
    """The scanned sizes along ``axis``: ``range(1, e + 4s + 1)`` and ``[max(1, n-2s), n+2s]``."""
    a = spec.axes[axis]
    s, e, n = a.stride, effective_kernel(a.kernel, a.dilation), a.input
    return range(1, e + 4 * s + 1), (max(1, n - 2 * s), n + 2 * s)


def scan_count(spec: LayerSpec, axis: int) -> int:
    """``len(Scanner.sizes(axis, spec))`` in O(1): the small sizes plus the part of the window
    around ``n`` above them."""
    small, (low, high) = _scan_ranges(spec, axis)
    return len(small) + max(0, high - max(low, small.stop) + 1)


#: Most small sizes a rule lists beside its residue pattern before it lists every size instead.
MAX_LISTED_EXCEPTIONS = 4


def _fit(axis: int, accepted: list[int], exact: list[int], stride: int) -> AxisRule:
    """The simplest ``n % m in residues and n >= minimum`` that agrees with every scanned size;
    failing that, the same pattern from a later size on with the exact sizes before it listed
    (at most :data:`MAX_LISTED_EXCEPTIONS`); failing that, the exact sizes themselves."""
    exact_set = set(exact)
    moduli = sorted({1, stride, 2 * stride})
    starts = [start for start in sorted(set(accepted))
              if sum(1 for m in exact if m < start) <= MAX_LISTED_EXCEPTIONS]
    for start in starts:  # the earliest start first: no listed sizes where the pattern fits all
        tail = [m for m in accepted if m >= start]
        tail_exact = [m for m in exact if m >= start]
        if not tail_exact:
            break
        for modulus in moduli:
            residues = tuple(sorted({m % modulus for m in tail_exact}))
            minimum = min(tail_exact)
            if all((m in exact_set) == (m >= minimum and m % modulus in residues) for m in tail):
                also = tuple(m for m in exact if m < start)
                # state the least size only where a smaller accepted size would otherwise pass
                needed = any(m < minimum and m % modulus in residues and m not in also for m in accepted)
                return AxisRule(axis, modulus, residues, minimum if needed else 1, also=also)
    return AxisRule(axis, sizes=tuple(exact))
