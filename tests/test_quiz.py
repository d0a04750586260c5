"""The quiz API: sets are reproducible and balanced, keys round-trip, answers are read every
reasonable way and wrong ones are refused, bad arguments get one line, and the quiz core imports
nothing heavy. (The answers themselves are checked against the engine and the frameworks in
``test_quiz_oracle.py``.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgeom
from convgeom import GeometryError, GeometryTypeError
from convgeom.quiz import (
    DIFFICULTIES,
    FRAMEWORKS,
    KINDS,
    Exercise,
    Verdict,
    check,
    exercise_from_key,
    generate,
)
from convgeom.quiz.answers import read
from convgeom.quiz.exercise import build
from convgeom.quiz.kinds import sizes_answer
from convgeom.quiz.spelling import spelling

PARAM_NAMES = {"op", "input", "kernel", "stride", "padding", "dilation", "output_padding", "ceil_mode", "framework",
               "output"}


def test_the_interface_names() -> None:
    assert KINDS == ("output_size", "same_padding", "mapping", "receptive_field", "transpose", "pool_ceil", "raises")
    assert DIFFICULTIES == ("easy", "medium", "hard")
    assert set(FRAMEWORKS) == {"torch", "tensorflow", "jax", "onnx"}
    e = generate(count=1, seed=0)[0]
    assert isinstance(e, Exercise)
    for name in ("key", "kind", "framework", "difficulty", "question", "params", "answer", "explanation"):
        assert isinstance(getattr(e, name), (str, dict)), name
    v = check(e, e.answer)
    assert isinstance(v, Verdict) and v.correct and v.expected == e.answer


def test_a_seed_gives_the_same_set_and_another_seed_another() -> None:
    first = generate(count=14, seed=123, difficulty="hard")
    assert first == generate(count=14, seed=123, difficulty="hard")
    assert [e.question for e in first] != [e.question for e in generate(count=14, seed=124, difficulty="hard")]
    assert len({e.question for e in first}) == 14  # no question repeats


def test_a_set_is_the_same_in_another_interpreter() -> None:
    """Nothing depends on hash randomisation or on the process: a seed printed today gives the
    same worksheet tomorrow."""
    here = [e.to_dict() for e in generate(count=7, seed=99, framework="tf")]
    code = ("import json; from convgeom.quiz import generate; "
            "print(json.dumps([e.to_dict() for e in generate(count=7, seed=99, framework='tf')]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345",
           "PYTHONPATH": os.path.dirname(os.path.dirname(convgeom.__file__))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == here


def test_sets_cycle_through_kinds_and_frameworks() -> None:
    exercises = generate(count=28, seed=5)
    assert Counter(e.kind for e in exercises) == {k: 4 for k in KINDS}
    assert Counter(e.framework for e in exercises) == {f: 7 for f in FRAMEWORKS}
    assert {e.difficulty for e in exercises} == {"medium"}
    only = generate(count=6, seed=5, kinds=["raises", "mapping"], framework="onnx", difficulty="easy")
    assert {e.kind for e in only} == {"raises", "mapping"} and {e.framework for e in only} == {"onnx"}
    assert generate(count=3, seed=5, kinds="transpose")[0].kind == "transpose"  # one kind as a string


@pytest.mark.parametrize("kind", KINDS)
def test_keys_regenerate_their_exercise(kind: str) -> None:
    for framework in FRAMEWORKS:
        for difficulty in DIFFICULTIES:
            for e in generate(count=3, kinds=[kind], framework=framework, difficulty=difficulty, seed=len(kind)):
                assert re.fullmatch(r"[a-z]{2}-[a-z]-[a-z]-[0-9a-z]+", e.key) and len(e.key) <= 20
                assert exercise_from_key(e.key) == e
                assert hash(exercise_from_key(e.key)) == hash(e)


@pytest.mark.parametrize("key", ["", "os", "os-t-m", "os-t-m-", "xx-t-m-1", "os-z-m-1", "os-t-q-1", "OS-T-M-1",
                                 "os-t-m-zzzzzzzzz", "os-t-m-1 2", "os_t_m_1", "os-t-m-" + "1" * 40, "os-t-m-zzzzzzzz"])
def test_a_malformed_key_is_one_line(key: str) -> None:
    with pytest.raises(GeometryError) as info:
        exercise_from_key(key)
    assert "\n" not in str(info.value) and "key" in str(info.value)


def test_a_key_of_the_wrong_type() -> None:
    with pytest.raises(GeometryTypeError):
        exercise_from_key(7)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, needle", [
    ({"count": 0}, "count must be from 1 to 100"),
    ({"count": 101}, "count must be from 1 to 100"),
    ({"count": 2.0}, "count must be an int"),
    ({"count": True}, "count must be an int"),
    ({"kinds": []}, "kinds is empty"),
    ({"kinds": ["size"]}, "unknown kind 'size'"),
    ({"kinds": [3]}, "kind must be a string"),
    ({"kinds": 3}, "kinds must be a sequence"),
    ({"framework": "caffe"}, "unknown framework 'caffe'"),
    ({"framework": 3}, "framework must be a string"),
    ({"difficulty": "insane"}, "unknown difficulty 'insane'"),
    ({"seed": -1}, "seed must be from 0 to"),
    ({"seed": 2**63}, "seed must be from 0 to"),
    ({"seed": "7"}, "seed must be an int"),
])
def test_bad_arguments_are_one_line(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(GeometryError) as info:
        generate(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value) and "\n" not in str(info.value)
    typed = needle.endswith(("an int", "a string", "a sequence"))
    assert isinstance(info.value, TypeError) == typed


def test_framework_aliases() -> None:
    assert {e.framework for e in generate(count=3, framework="PyTorch", seed=1)} == {"torch"}
    assert {e.framework for e in generate(count=3, framework="keras", seed=1)} == {"tensorflow"}


def test_params_use_the_command_lines_names_and_values() -> None:
    """Every field is a ``convgeom shape`` option (possibly prefixed by its layer or option),
    every value a string the command line takes; no field gives the answer away."""
    for e in generate(count=70, seed=3, difficulty="hard"):
        assert all(isinstance(v, str) for v in e.params.values()), e.key
        for name, value in e.params.items():
            base = name.rsplit(".", 1)[-1]
            assert base in PARAM_NAMES, (e.key, name)
            assert re.fullmatch(r"[a-z0-9:,\-_]+", value), (e.key, name, value)
        assert e.params.get("framework", e.framework) == e.framework
        if e.kind == "same_padding" and "output" in e.params:
            assert "padding" not in e.params
        if e.kind == "transpose" and "output" in e.params:
            assert "output_padding" not in e.params
        if e.kind == "mapping":
            assert not any(e.answer in v for v in e.params.values() if len(v) == 1 and v.isalpha())


def test_to_dict_with_and_without_the_answer() -> None:
    e = generate(count=1, kinds=["mapping"], seed=4)[0]
    full = e.to_dict()
    assert set(full) == {"key", "kind", "framework", "difficulty", "question", "choices", "params", "answer",
                         "explanation"}
    assert full["choices"] == list(e.choices) and len(e.choices) == 4
    learner = e.to_dict(include_answer=False)
    assert set(learner) == set(full) - {"answer", "explanation"}
    json.dumps(full)


def test_explanations_come_from_explain_and_name_the_command() -> None:
    for e in generate(count=21, seed=8):
        assert "Check" in e.explanation and "convgeom explain" in e.explanation
        if e.kind in ("output_size", "pool_ceil"):
            assert "output = " in e.explanation  # explain's formula with the numbers in
        if e.kind == "raises" and e.answer.startswith("yes"):
            assert "rule: " in e.explanation and "fix: " in e.explanation


def test_questions_are_one_paragraph() -> None:
    for e in generate(count=70, seed=11, difficulty="easy"):
        assert "\n" not in e.question and e.question.strip() == e.question


# ----- reading answers ------------------------------------------------------------------------
def _one(kind: str, framework: str = "torch", difficulty: str = "medium", where: object = None) -> Exercise:
    for number in range(500):
        e = build(kind, framework, difficulty, number)
        if where is None or where(e):  # type: ignore[operator]
            return e
    raise AssertionError("no such exercise")


def _ok(e: Exercise, response: str) -> bool:
    v = check(e, response)
    assert v.understood, (response, v.message)
    return v.correct


def test_sizes_are_read_every_reasonable_way() -> None:
    e = _one("output_size", where=lambda e: len(set(read(e, e.answer))) == 2)
    h, w = read(e, e.answer)
    for text in (f"({h}, {w})", f"{h},{w}", f"{h}, {w}", f"[{h}, {w}]", f"{h}x{w}", f"{h} x {w}", f"{h}×{w}",
                 f"{h} {w}", f" ({h},{w}) ", f"({h}, {w}).", f"torch.Size([{h}, {w}])"):
        assert _ok(e, text), text
    for text in (f"({h + 1}, {w})", f"({h}, {w - 1})", f"({w}, {h})", f"{h}"):
        assert not _ok(e, text), text


def test_one_value_stands_for_every_axis_and_full_shapes_lose_batch_and_channels() -> None:
    square = _one("output_size", where=lambda e: len(set(read(e, e.answer))) == 1 and "," in e.params["input"])
    n = read(square, square.answer)[0]
    assert _ok(square, str(n)) and _ok(square, f"({n}, {n})") and not _ok(square, str(n + 1))
    for framework in ("torch", "tensorflow"):
        e = _one("output_size", framework, where=lambda e: "," in e.params["input"])
        out = read(e, e.answer)
        x = re.search(r"of shape \(([0-9, ]+)\)", e.question).group(1).split(",")  # type: ignore[union-attr]
        conv = re.search(r"(?:nn\.Conv\dd\(\d+, |Conv\dD\()(\d+)", e.question)
        channels = int(conv.group(1)) if conv else int(x[-1] if spelling(framework).channels_last else x[1])
        full = (1, *out, channels) if spelling(framework).channels_last else (1, channels, *out)
        assert _ok(e, str(full)), (e.key, full)


def test_unreadable_sizes_say_what_to_write() -> None:
    e = _one("output_size")
    for text in ("", "   ", "four", "4.5", "(4, 4, 4, 4, 4, 4, 4)", "4;4", "x" * 300, "-"):
        v = check(e, text)
        assert not v.understood and not v.correct and "\n" not in v.message, text
        assert e.explanation not in v.message  # the learner may try again


def test_per_side_padding_is_read_as_the_command_line_reads_it() -> None:
    e = _one("same_padding", "tensorflow", where=lambda e: "padding" in e.params and "," in e.params["input"]
             and len(set(read(e, e.answer))) == 2)
    (a, b), (c, d) = read(e, e.answer)
    for text in (f"{a}:{b},{c}:{d}", f"{a}:{b}, {c}:{d}", f"(({a}, {b}), ({c}, {d}))", f"[[{a},{b}],[{c},{d}]]",
                 f"[({a}, {b}), ({c}, {d})]"):
        assert _ok(e, text), text
    assert not _ok(e, f"{a}:{b + 1},{c}:{d}") and not _ok(e, f"{c}:{d},{a}:{b}")
    assert not check(e, f"{a},{b},{c},{d}").understood  # begins-first or per axis? not guessed


def test_symmetric_padding_as_an_int() -> None:
    e = _one("same_padding", "onnx", "easy", where=lambda e: "output" in e.params)
    p = int(e.answer)
    assert _ok(e, str(p)) and _ok(e, f"{p}:{p}") and not _ok(e, str(p + 1))
    one_axis = _one("same_padding", "tensorflow", "easy", where=lambda e: "," not in e.params["input"]
                    and "padding" in e.params)
    (b, a), = read(one_axis, one_axis.answer)
    assert _ok(one_axis, f"({b}, {a})") and _ok(one_axis, f"{b},{a}") and _ok(one_axis, f"{b}:{a}")


def test_choices_are_read_by_letter_or_text() -> None:
    e = _one("mapping")
    letter = e.answer
    right = e.choices["ABCD".index(letter)]
    for text in (letter, letter.lower(), f"({letter.lower()})", f"{letter}.", f"{letter})", f"option {letter}",
                 right, f"`{right}`"):
        assert _ok(e, text), text
    for other in "ABCD".replace(letter, ""):
        assert not _ok(e, other) and not _ok(e, e.choices["ABCD".index(other)])
    assert not check(e, "E").understood and not check(e, "AB").understood


def test_yes_and_no() -> None:
    yes = _one("raises", where=lambda e: e.answer.startswith("yes"))
    no = _one("raises", where=lambda e: e.answer.startswith("no"))
    for text in ("yes", "Yes", "y", "YES: because", "true", "raises", "it raises", "yes, it does"):
        assert _ok(yes, text) and not _ok(no, text), text
    for text in ("no", "No.", "n", "false", "no: it runs"):
        assert _ok(no, text) and not _ok(yes, text), text
    assert not check(yes, "maybe").understood
    assert yes.answer.split(": ", 1)[1] in check(yes, "no").message  # the rule that refuses it


def test_the_verdict_is_one_line_then_the_explanation() -> None:
    e = _one("output_size")
    right, wrong = check(e, e.answer), check(e, "999")
    assert right.message.splitlines()[0] == f"Correct: {e.answer}."
    assert wrong.message.splitlines()[0] == f"Not quite: you answered {wrong.given}; the answer is {e.answer}."
    assert wrong.given == sizes_answer((999,) * len(read(e, e.answer))) and wrong.expected == e.answer
    assert right.message.endswith(e.explanation) and wrong.message.endswith(e.explanation)


def test_check_refuses_wrong_types() -> None:
    e = _one("output_size")
    with pytest.raises(GeometryTypeError):
        check(e, 4)  # type: ignore[arg-type]
    with pytest.raises(GeometryTypeError):
        check("os-t-m-1", "4")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), framework=st.sampled_from(FRAMEWORKS), difficulty=st.sampled_from(DIFFICULTIES),
       number=st.integers(0, 2**40 - 1))
def test_the_stated_answer_is_always_accepted(kind: str, framework: str, difficulty: str, number: int) -> None:
    """Any exercise: its own answer is correct, read back the same way, and a different value
    of the same form is not."""
    e = build(kind, framework, difficulty, number)
    assert exercise_from_key(e.key) == e
    assert check(e, e.answer).correct
    value = read(e, e.answer)
    if isinstance(value, bool):
        assert not check(e, "no" if value else "yes").correct
    elif isinstance(value, str):
        assert not check(e, "A" if value != "A" else "B").correct
    elif isinstance(value[0], tuple):
        assert not check(e, ",".join(f"{b + 1}:{a}" for b, a in value)).correct
    else:
        assert not check(e, str(tuple(v + 1 for v in value))).correct


# ----- weight ---------------------------------------------------------------------------------
def test_the_quiz_imports_nothing_heavy() -> None:
    code = ("import sys; from convgeom import quiz; e = quiz.generate(count=7, seed=1); quiz.check(e[0], '4'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'torch', 'onnx', 'keras', 'rich', 'starlette') or m.startswith(('convgeom.ops', 'convgeom.tracing'))))")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(convgeom.__file__))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_import_convgeom_quiz_is_lazy() -> None:
    code = "import sys; import convgeom.quiz; print(sorted(m for m in sys.modules if m.startswith('convgeom.')))"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(convgeom.__file__))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip() == "['convgeom.quiz']"
