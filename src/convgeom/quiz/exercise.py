"""Exercises: what one is (:class:`Exercise`), how a set is drawn (:func:`generate`) and how a
key brings one back (:func:`exercise_from_key`).

Every exercise is built from its own random stream, seeded by its kind, framework, difficulty
and a 40-bit number; the key writes those four down (``os-t-m-1x2y3z``), so a key regenerates
exactly its exercise and a set is reproducible from the seed that drew the numbers.

Caps: :data:`MAX_COUNT` exercises per set, seeds in ``[0, 2**63 - 1]``, keys of at most
:data:`MAX_KEY_LENGTH` characters.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..errors import GeometryError, GeometryTypeError, shown

#: the kinds of exercise, in the order the documentation lists them
KINDS: tuple[str, ...] = ("output_size", "same_padding", "mapping", "receptive_field", "transpose", "pool_ceil",
                          "raises")
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
FRAMEWORKS: tuple[str, ...] = ("torch", "tensorflow", "jax", "onnx")
#: what each kind is called in headings
TITLES = {
    "output_size": "Output size",
    "same_padding": "'same' padding",
    "mapping": "Which layer maps A to B?",
    "receptive_field": "Receptive field",
    "transpose": "Transposed convolution",
    "pool_ceil": "Pooling and ceil mode",
    "raises": "Does it raise?",
}
#: most exercises one set may hold
MAX_COUNT = 100
#: largest seed (int64)
MAX_SEED = 2**63 - 1
MAX_KEY_LENGTH = 32

_KIND_CODES = {"output_size": "os", "same_padding": "sp", "mapping": "mp", "receptive_field": "rf",
               "transpose": "tc", "pool_ceil": "pc", "raises": "rs"}
_FRAMEWORK_CODES = {"torch": "t", "tensorflow": "f", "jax": "j", "onnx": "o"}
_DIFFICULTY_CODES = {"easy": "e", "medium": "m", "hard": "h"}
_KEY = re.compile(r"([a-z]{2})-([a-z])-([a-z])-([0-9a-z]{1,8})")
_NUMBER_BITS = 40


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``params`` holds the layer(s) in ``convgeom shape``'s option names with
    values as the command line takes them (``input``, ``kernel``, ``stride``, ``padding``, ...);
    several layers or options are prefixed (``layer1.kernel``, ``A.kernel``, ``forward.stride``).
    ``choices`` lists the options of a multiple-choice exercise (answered by letter, A first)."""

    key: str
    kind: str
    framework: str
    difficulty: str
    question: str
    params: dict[str, str] = field(hash=False)
    answer: str
    explanation: str
    choices: tuple[str, ...] = ()

    def to_dict(self, include_answer: bool = True) -> dict[str, object]:
        """JSON-ready; without the answer and explanation for a learner's view."""
        data: dict[str, object] = {
            "key": self.key, "kind": self.kind, "framework": self.framework, "difficulty": self.difficulty,
            "question": self.question, "choices": list(self.choices), "params": dict(self.params),
        }
        if include_answer:
            data["answer"] = self.answer
            data["explanation"] = self.explanation
        return data


@dataclass(frozen=True)
class Verdict:
    """The check of one response. ``message`` is one line, then (for a response that could be
    read) the explanation. ``understood`` is False when the response could not be read as an
    answer at all (then ``correct`` is False and the message says what to write)."""

    correct: bool
    expected: str
    given: str
    message: str
    understood: bool = True


# ----- validation -------------------------------------------------------------------------
def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GeometryTypeError(f"{name} must be an int, got {shown(value)} ({type(value).__name__})",
                                fix=f"pass {name} as an int from {low} to {high}")
    if not low <= value <= high:
        raise GeometryError(f"{name} must be from {low} to {high}, got {shown(value)}",
                            fix=f"pass {name} between {low} and {high}")
    return value


def _check_name(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise GeometryTypeError(f"{name} must be a string, got {shown(value)} ({type(value).__name__})",
                                fix="use one of " + ", ".join(choices))
    if value not in choices:
        raise GeometryError(f"unknown {name} {shown(value)}", fix="use one of " + ", ".join(choices))
    return value


def check_kinds(kinds: Optional[Sequence[str]]) -> tuple[str, ...]:
    """The kinds asked for (all when None); a single string is one kind."""
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = (kinds,)
    if not isinstance(kinds, (tuple, list)):
        raise GeometryTypeError(f"kinds must be a sequence of kind names, got {shown(kinds)}",
                                fix="pass e.g. kinds=['output_size', 'raises']")
    if not kinds:
        raise GeometryError("kinds is empty", fix="pass at least one of " + ", ".join(KINDS) + ", or None for all")
    return tuple(dict.fromkeys(_check_name("kind", k, KINDS) for k in kinds))


def check_framework(framework: Optional[str]) -> Optional[str]:
    """The dialect name for a framework or alias; None for a mix of all four."""
    if framework is None:
        return None
    from ..dialects import canonical_framework

    return canonical_framework(framework)


# ----- drawing and keys -------------------------------------------------------------------
def build(kind: str, framework: str, difficulty: str, number: int) -> Exercise:
    """The exercise of this kind, framework and difficulty drawn from stream ``number``."""
    from .kinds import GENERATORS

    rng = random.Random(f"convgeom-quiz/{kind}/{framework}/{difficulty}/{number}")
    draft = GENERATORS[kind](rng, framework, difficulty)
    key = f"{_KIND_CODES[kind]}-{_FRAMEWORK_CODES[framework]}-{_DIFFICULTY_CODES[difficulty]}-{_base36(number)}"
    return Exercise(key, kind, framework, difficulty, draft.question, dict(draft.params), draft.answer,
                    draft.explanation, draft.choices)


def generate(*, count: int = 10, kinds: Optional[Sequence[str]] = None, framework: Optional[str] = None,
             difficulty: str = "medium", seed: Optional[int] = None) -> list[Exercise]:
    """``count`` exercises (at most :data:`MAX_COUNT`), cycling through ``kinds`` (default: all)
    and the frameworks (``framework``: one of them, aliases accepted; default: all four), each
    in its own shuffled order. The same ``seed`` gives the same list; no two questions repeat."""
    count = _check_int("count", count, 1, MAX_COUNT)
    chosen = check_kinds(kinds)
    one = check_framework(framework)
    difficulty = _check_name("difficulty", difficulty, DIFFICULTIES)
    if seed is not None:
        seed = _check_int("seed", seed, 0, MAX_SEED)
    rng = random.Random(seed if seed is not None else random.SystemRandom().getrandbits(63))
    kind_order = list(chosen)
    rng.shuffle(kind_order)
    frameworks = [one] if one is not None else list(FRAMEWORKS)
    rng.shuffle(frameworks)
    out: list[Exercise] = []
    seen: set[str] = set()
    for i in range(count):
        kind, fw = kind_order[i % len(kind_order)], frameworks[i % len(frameworks)]
        for _ in range(20):  # a repeated question is redrawn (rare: the ranges are wide)
            exercise = build(kind, fw, difficulty, rng.getrandbits(_NUMBER_BITS))
            if exercise.question not in seen:
                break
        seen.add(exercise.question)
        out.append(exercise)
    return out


def exercise_from_key(key: str) -> Exercise:
    """The exercise a key names (``Exercise.key``); GeometryError for a malformed key."""
    if not isinstance(key, str):
        raise GeometryTypeError(f"key must be a string, got {shown(key)} ({type(key).__name__})",
                                fix="pass an exercise's key, e.g. 'os-t-m-1x2y3z'")
    text = key.strip()
    match = _KEY.fullmatch(text) if len(text) <= MAX_KEY_LENGTH else None
    if match is None:
        raise GeometryError(f"malformed exercise key {shown(key, 40)}",
                            fix="a key looks like 'os-t-m-1x2y3z' (kind-framework-difficulty-number)")
    parts = match.groups()
    names = []
    for what, codes, code in (("kind", _KIND_CODES, parts[0]), ("framework", _FRAMEWORK_CODES, parts[1]),
                              ("difficulty", _DIFFICULTY_CODES, parts[2])):
        found = [name for name, c in codes.items() if c == code]
        if not found:
            raise GeometryError(f"exercise key {shown(key, 40)} names no {what} ({code!r})",
                                fix=f"{what} codes are " + ", ".join(f"{c} ({n})" for n, c in codes.items()))
        names.append(found[0])
    number = int(parts[3], 36)
    if number >= 2**_NUMBER_BITS:
        raise GeometryError(f"exercise key {shown(key, 40)} has a number out of range",
                            fix="copy the key exactly as the quiz printed it")
    return build(names[0], names[1], names[2], number)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
