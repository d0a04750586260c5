"""Practice exercises on convolution geometry, answered and explained by the engine.

Seven kinds (:data:`KINDS`): the output size of a layer, the padding of 'same' (and its split
before/after), which of four layers maps one size to another, the receptive field of a small
stack, transposed convolutions (output size, the output_padding that restores a size), pooling
with ceil mode, and "does this raise, and why?"; for PyTorch, Keras/TensorFlow, JAX and ONNX
Runtime, at three difficulties. Every answer comes from the geometry engine and every
explanation from :func:`convgeom.explain`; :func:`check` reads an answer the way the command
line writes values (``4``, ``(4, 4)``, ``4,4``, ``1:2``, ``yes``/``no``, a letter).

::

    from convgeom import quiz
    exercises = quiz.generate(count=5, kinds=["output_size"], framework="torch", seed=7)
    quiz.check(exercises[0], "(4, 4)").correct
    quiz.exercise_from_key(exercises[0].key) == exercises[0]

``import convgeom.quiz`` loads only the standard library and the geometry core; each name is
imported from its module on first use (PEP 562), as in :mod:`convgeom`.
"""

from .. import _load

TYPE_CHECKING = False

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "KINDS": "convgeom.quiz.exercise",
    "DIFFICULTIES": "convgeom.quiz.exercise",
    "FRAMEWORKS": "convgeom.quiz.exercise",
    "MAX_COUNT": "convgeom.quiz.exercise",
    "Exercise": "convgeom.quiz.exercise",
    "Verdict": "convgeom.quiz.exercise",
    "generate": "convgeom.quiz.exercise",
    "exercise_from_key": "convgeom.quiz.exercise",
    "check": "convgeom.quiz.answers",
    "ask": "convgeom.quiz.session",
    "worksheet": "convgeom.quiz.session",
    "document": "convgeom.quiz.session",
    "Score": "convgeom.quiz.session",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from typing import Any

    from .answers import check  # noqa: F401
    from .exercise import (  # noqa: F401
        DIFFICULTIES,
        FRAMEWORKS,
        KINDS,
        MAX_COUNT,
        Exercise,
        Verdict,
        exercise_from_key,
        generate,
    )
    from .session import Score, ask, document, worksheet  # noqa: F401


def __getattr__(name: str) -> "Any":
    return _load(__name__, _EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
