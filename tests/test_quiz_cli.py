"""``convgeom quiz``: the terminal session driven through standard input keeps the right score,
``--json`` and ``--markdown`` have their shapes, ``--key`` replays, and every bad option is one
stderr line with exit code 2."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

import convgeom
from convgeom.cli import main
from convgeom.quiz import KINDS, generate
from convgeom.quiz.answers import read
from convgeom.quiz.session import ask


def run(argv: list[str], stdin: str = "", capsys: pytest.CaptureFixture[str] | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    assert capsys is not None and monkeypatch is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def wrong(answer: str) -> str:
    """An answer of the right form that is not the answer."""
    if answer[0] in "ABCD" and len(answer) == 1:
        return "ABCD"[("ABCD".index(answer) + 1) % 4]
    if answer.startswith(("yes", "no")):
        return "no" if answer.startswith("yes") else "yes"
    return "12345"


def test_the_terminal_session_keeps_score(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    exercises = generate(count=7, seed=42)
    # right, wrong, unreadable then right, skip, right, wrong, right
    lines = [exercises[0].answer, wrong(exercises[1].answer), "what?!", exercises[2].answer, "skip",
             exercises[4].answer, wrong(exercises[5].answer), exercises[6].answer]
    code, out, err = run(["quiz", "--seed", "42", "--count", "7"], "\n".join(lines) + "\n", capsys, monkeypatch)
    assert code == 0 and err == ""
    assert out.count("Correct: ") == 4 and out.count("Not quite: ") == 2 and out.count("Skipped: ") == 1
    assert out.count("Not an answer: ") == 1
    assert out.rstrip().splitlines()[-2] == "score: 4/7"
    missed = [exercises[i].key for i in (1, 3, 5)]
    assert out.rstrip().splitlines()[-1] == "to try a missed one again: convgeom quiz --key " + ",".join(missed)
    for number, e in enumerate(exercises, 1):
        assert f"Question {number}/7" in out and e.question in out and e.key in out
    assert "convgeom quiz --seed 42 --count 7 --difficulty medium" in out  # how to replay the set


def test_the_end_of_input_and_quit_stop_early(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    exercises = generate(count=5, seed=3, difficulty="easy")
    code, out, _ = run(["quiz", "--seed", "3", "--count", "5", "--difficulty", "easy"], exercises[0].answer + "\n",
                       capsys, monkeypatch)
    assert code == 0 and "score: 1/1 (stopped after 1 of 5)" in out
    code, out, _ = run(["quiz", "--seed", "3", "--count", "5", "--difficulty", "easy"],
                       f"{exercises[0].answer}\nquit\n{exercises[2].answer}\n", capsys, monkeypatch)
    assert code == 0 and "score: 1/1 (stopped after 1 of 5)" in out and "Question 3/5" not in out


def test_three_unreadable_answers_skip_the_question() -> None:
    exercises = generate(count=2, seed=8, kinds=["output_size"])
    out = io.StringIO()
    score = ask(exercises, io.StringIO("\n\nfoo\nbar\nbaz\n" + exercises[1].answer + "\n"), out)
    assert (score.correct, score.asked, score.missed) == (1, 2, (exercises[0].key,))
    assert out.getvalue().count("Not an answer: ") == 3 and "Skipped: " in out.getvalue()


def test_a_session_through_a_pipe() -> None:
    """The installed entry point, stdin a pipe: what a test or a shell script does."""
    exercises = generate(count=3, seed=77, framework="onnx")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(convgeom.__file__))}
    proc = subprocess.run([sys.executable, "-m", "convgeom", "quiz", "--seed", "77", "--count", "3", "--framework",
                           "onnx"], input="\n".join(e.answer for e in exercises) + "\n", capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.rstrip().endswith("score: 3/3")


def test_json_for_teachers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["quiz", "--json", "--seed", "5", "--count", "14", "--difficulty", "hard"], "", capsys,
                         monkeypatch)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["seed"] == 5 and data["difficulty"] == "hard" and data["count"] == 14
    assert [e["key"] for e in data["exercises"]] == [e.key for e in generate(count=14, seed=5, difficulty="hard")]
    for e in data["exercises"]:
        assert {"kind", "framework", "question", "params", "answer", "explanation", "key", "choices"} <= set(e)
        assert e["kind"] in KINDS and all(isinstance(v, str) for v in e["params"].values())
    assert {e["kind"] for e in data["exercises"]} == set(KINDS)


def test_markdown_worksheet(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["quiz", "--markdown", "--seed", "9", "--count", "8", "--kind", "mapping,raises"], "",
                       capsys, monkeypatch)
    assert code == 0
    exercises = generate(count=8, seed=9, kinds=["mapping", "raises"])
    assert out.startswith("# convgeom practice: 8 exercises (seed 9, medium)")
    assert "`convgeom quiz --seed 9 --count 8 --difficulty medium --kind mapping,raises --markdown`" in out
    questions, key = out.split("## Answer key")
    assert len(re.findall(r"^## \d+\. ", questions, re.M)) == 8
    for number, e in enumerate(exercises, 1):
        assert e.question in questions
        assert f"### {number}. {e.answer}" in key and e.explanation in key
        for choice in e.choices:
            assert f"`{choice}`" in questions


def test_key_replays_exercises(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    exercises = generate(count=2, seed=21)
    keys = ",".join(e.key for e in exercises)
    code, out, _ = run(["quiz", "--key", keys, "--json"], "", capsys, monkeypatch)
    assert code == 0 and [e["question"] for e in json.loads(out)["exercises"]] == [e.question for e in exercises]
    code, out, _ = run(["quiz", "--key", exercises[0].key], exercises[0].answer + "\n", capsys, monkeypatch)
    assert code == 0 and "score: 1/1" in out


def test_without_a_seed_one_is_drawn_and_printed(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["quiz", "--json", "--count", "2"], "", capsys, monkeypatch)
    data = json.loads(out)
    again = generate(count=2, seed=data["seed"])
    assert [e["key"] for e in data["exercises"]] == [e.key for e in again]


@pytest.mark.parametrize("argv, needle", [
    (["--count", "0"], "--count must be >= 1"),
    (["--count", "101"], "--count value '101' is larger than 100"),
    (["--count", "ten"], "--count 'ten' is not an integer"),
    (["--count", ""], "--count is empty"),
    (["--kind", "size"], "unknown --kind 'size'"),
    (["--kind", "raises,"], "unknown --kind ''"),
    (["--framework", "caffe"], "unknown framework 'caffe'"),
    (["--difficulty", "insane"], "invalid choice: 'insane'"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--seed", "9223372036854775808"], "larger than 9223372036854775807"),
    (["--seed", "1.5"], "--seed '1.5' is not an integer"),
    (["--key", "nope"], "malformed exercise key 'nope'"),
    (["--key", "os-t-m-1", "--count", "3"], "--count does not apply"),
    (["--key", ",".join(["os-t-m-1"] * 101)], "at most 100"),
    (["--json", "--markdown"], "not allowed with argument"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_options_are_one_line_and_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["quiz", *argv], "", capsys, monkeypatch)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("convgeom: error: ") and needle in err, err


def test_help_states_the_caps_and_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quiz", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("1 to 100", "0 to 9223372036854775807", "at most 100", *KINDS):
        assert needle in text, needle


def test_answers_in_the_session_are_read_like_check(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A learner writes 4x4 or (1, 8, 4, 4); the session reads what check reads."""
    e = next(x for x in generate(count=20, seed=2, kinds=["output_size"], framework="torch")
             if len(read(x, x.answer)) == 2)
    h, w = read(e, e.answer)
    code, out, _ = run(["quiz", "--key", e.key], f"{h}x{w}\n", capsys, monkeypatch)
    assert code == 0 and "score: 1/1" in out
