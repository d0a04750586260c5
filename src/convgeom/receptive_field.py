"""Receptive fields after Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional
Neural Networks" (Distill, 2019).

A layer maps output index ``u`` to the input interval
``[u*stride - padding, u*stride - padding + kernel - 1]`` (:class:`RFStep`). Composing steps from
the model input onwards gives the receptive field of a unit: its ``size`` ``r``, effective
stride (``jump``) ``S`` and effective padding ``P``:

    r' = r + (k - 1) * S,   S' = S * s,   P' = P + p * S

(Araujo et al. eqs. 2, 5, 6 unrolled forwards). Values are :class:`fractions.Fraction` so that
transposed convolutions and upsampling, whose stride is ``1/s``, stay exact.
"""

from __future__ import annotations

from fractions import Fraction

from .formatting import fraction as _show

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see convgeom/__init__.py)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from .frozen import dataclass  # the same frozen dataclasses, without importing dataclasses


@dataclass(frozen=True)
class RFStep:
    """One layer on one axis: effective kernel, stride and padding (pad before).

    For a transposed conv with stride ``s``, effective kernel ``e`` and crop ``c`` at the start,
    the step is ``kernel = (e-1)/s + 1``, ``stride = 1/s``, ``padding = (e-1-c)/s``: output
    ``y`` is written by inputs ``i`` with ``i*s + j*d - c = y``.
    """

    kernel: Fraction
    stride: Fraction
    padding: Fraction

    @classmethod
    def windowed(cls, effective_kernel: int, stride: int, pad_before: int) -> RFStep:
        return cls(Fraction(effective_kernel), Fraction(stride), Fraction(pad_before))

    @classmethod
    def transposed(cls, effective_kernel: int, stride: int, crop_before: int) -> RFStep:
        return cls(
            Fraction(effective_kernel - 1, stride) + 1,
            Fraction(1, stride),
            Fraction(effective_kernel - 1 - crop_before, stride),
        )

    @classmethod
    def identity(cls) -> RFStep:
        return cls(Fraction(1), Fraction(1), Fraction(0))

    def __str__(self) -> str:
        return f"k={_show(self.kernel)}, s={_show(self.stride)}, p={_show(self.padding)}"


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one unit (per axis) with respect to the model input."""

    size: Fraction = Fraction(1)
    stride: Fraction = Fraction(1)
    padding: Fraction = Fraction(0)

    def then(self, step: RFStep) -> ReceptiveField:
        """The receptive field after one more layer (Araujo et al. recurrences, forwards)."""
        return ReceptiveField(
            size=self.size + (step.kernel - 1) * self.stride,
            stride=self.stride * step.stride,
            padding=self.padding + step.padding * self.stride,
        )

    def start(self, u: int = 0) -> Fraction:
        """First input index seen by output unit ``u``: ``u*S - P`` (Araujo eq. 9)."""
        return u * self.stride - self.padding

    def center(self, u: int = 0) -> Fraction:
        """Centre of unit ``u``'s region: ``-P + u*S + (r-1)/2`` (Araujo eq. 11)."""
        return self.start(u) + (self.size - 1) / 2

    def aligned_with(self, other: ReceptiveField) -> bool:
        """Two paths can be merged iff they share the stride and centre offset (Araujo §3)."""
        return self.stride == other.stride and self.center() == other.center()

    def __str__(self) -> str:
        return f"size={_show(self.size)}, stride={_show(self.stride)}, padding={_show(self.padding)}"


def compose(steps: list[RFStep] | tuple[RFStep, ...]) -> ReceptiveField:
    """Receptive field of the last layer of a chain of steps."""
    rf = ReceptiveField()
    for step in steps:
        rf = rf.then(step)
    return rf
