"""The three ways a set of exercises is used: asked in a terminal (:func:`ask`, which reads
answers line by line from any text stream, so a test can drive it), printed as a Markdown
worksheet with an answer key (:func:`worksheet`), or as JSON for teachers (:func:`document`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, TextIO

from .answers import check
from .exercise import TITLES, Exercise
from .kinds import LETTERS
from .spelling import spelling

#: what a learner types instead of an answer
SKIP = ("skip", "?", "pass")
QUIT = ("quit", "q", "exit")
#: unreadable answers in a row before the exercise counts as skipped
MAX_UNREADABLE = 3


@dataclass(frozen=True)
class Score:
    correct: int
    asked: int
    #: keys of the exercises answered wrongly or skipped
    missed: tuple[str, ...]

    def __str__(self) -> str:
        return f"score: {self.correct}/{self.asked}"


def heading(exercise: Exercise) -> str:
    """``Output size · PyTorch · medium``."""
    return f"{TITLES[exercise.kind]} · {spelling(exercise.framework).label} · {exercise.difficulty}"


def _choices(exercise: Exercise) -> list[str]:
    return [f"  {letter}. {choice}" for letter, choice in zip(LETTERS, exercise.choices)]


def ask(exercises: Sequence[Exercise], answers: TextIO, out: TextIO) -> Score:
    """Ask each exercise on ``out``, read one answer per line from ``answers``, say whether it
    is right with the explanation, and keep score. ``skip`` (or ``?``) shows the answer, ``quit``
    or the end of the input stops early; an unreadable answer is asked again."""
    correct, asked, missed = 0, 0, []
    for number, exercise in enumerate(exercises, 1):
        print(f"\nQuestion {number}/{len(exercises)} · {heading(exercise)} · key {exercise.key}", file=out)
        print(exercise.question, file=out)
        for line in _choices(exercise):
            print(line, file=out)
        outcome = _one(exercise, answers, out)
        if outcome is None:
            break
        asked += 1
        correct += outcome
        if not outcome:
            missed.append(exercise.key)
    score = Score(correct, asked, tuple(missed))
    print(f"\n{score}" + (f" (stopped after {asked} of {len(exercises)})" if asked < len(exercises) else ""), file=out)
    if missed:
        print("to try a missed one again: convgeom quiz --key " + ",".join(missed), file=out)
    return score


def _one(exercise: Exercise, answers: TextIO, out: TextIO) -> Optional[bool]:
    """Whether the answer was right; None when the input ended or the learner quit."""
    unreadable = 0
    while True:
        print("answer> ", end="", file=out, flush=True)
        line = answers.readline()
        if not line:
            print(file=out)
            return None
        response = line.strip()
        if response.lower() in QUIT:
            return None
        if not response:
            continue
        verdict = None if response.lower() in SKIP else check(exercise, response)
        if verdict is not None:
            print(verdict.message, file=out)
            if verdict.understood:
                return verdict.correct
            unreadable += 1
        if verdict is None or unreadable >= MAX_UNREADABLE:
            print(f"Skipped: the answer is {exercise.answer}.\n{exercise.explanation}", file=out)
            return False


def worksheet(exercises: Sequence[Exercise], title: str, command: str = "") -> str:
    """A Markdown worksheet: the questions, then the answer key with the explanations."""
    lines = [f"# {title}", ""]
    if command:
        lines += [f"Regenerate this sheet with `{command}`; the answer key is at the end.", ""]
    for number, exercise in enumerate(exercises, 1):
        lines += [f"## {number}. {heading(exercise)}", "", exercise.question, ""]
        if exercise.choices:
            lines += [f"- **{letter}.** `{choice}`" for letter, choice in zip(LETTERS, exercise.choices)] + [""]
        lines += [f"<sub>key `{exercise.key}`</sub>", ""]
    lines += ["---", "", "## Answer key", ""]
    for number, exercise in enumerate(exercises, 1):
        lines += [f"### {number}. {exercise.answer}", "", "```text", exercise.explanation, "```", ""]
    return "\n".join(lines)


def document(exercises: Sequence[Exercise], **header: object) -> dict[str, object]:
    """The JSON object ``--json`` prints: ``header`` fields, then every exercise with its answer."""
    return {**header, "count": len(exercises), "exercises": [e.to_dict() for e in exercises]}
