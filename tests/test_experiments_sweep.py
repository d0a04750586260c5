"""Whole sweeps on tiny data: outputs, interruption and --resume, Ray against local, claim
verdicts, missing extras."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from convgeom.experiments import analysis, backends, stats
from convgeom.experiments.config import parse
from convgeom.experiments.store import RunStore, comparable
from convgeom.experiments.sweep import Options, Progress, run

pytest.importorskip("torch")
pytest.importorskip("numpy")

TINY = ["--dataset", "border", "--size", "16", "--samples", "100", "--depth", "2", "--width", "4",
        "--epochs", "2", "--seeds", "2", "--padding-mode", "zeros,circular", "--batch-size", "32"]
TINY_CONFIG = {
    "name": "tiny", "datasets": [{"name": "border", "size": 16, "samples": 100}],
    "model": {"depth": 2, "width": 4}, "grid": {"padding_mode": ["zeros", "circular"]},
    "training": {"epochs": 2, "batch_size": 32}, "seeds": 2,
    "claims": [{"id": "c", "text": "circular beats zeros", "source": "test",
                "a": {"padding_mode": "circular"}, "b": {"padding_mode": "zeros"}},
               {"id": "t", "text": "trace", "source": "test", "metric": "trace"}],
}


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from convgeom.cli import main

    code = main(["experiment", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_sweep_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from convgeom.experiments.config import ModelSpec
    from convgeom.experiments.models import geometry

    out = tmp_path / "o"
    code, stdout, err = _main(capsys, *TINY, "--kernel", "1,3", "--out", str(out), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert (data["trials"], data["finished"], data["ran"], data["interrupted"]) == (8, 8, 8, False)
    for name in ("runs.jsonl", "runs.csv", "runs.json", "epochs.csv", "summary.csv", "comparisons.csv",
                 "experiment.json", "report.md", "plots/accuracy.png", "plots/receptive_field.png",
                 "plots/learning_curves.png", "plots/cost.png"):
        assert (out / name).is_file(), name
    assert (out / "plots" / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = list(csv.DictReader((out / "runs.csv").open()))
    assert len(runs) == 8 and {r["padding_mode"] for r in runs} == {"zeros", "circular"}
    assert len(list(csv.DictReader((out / "epochs.csv").open()))) == 8 * 2
    # the summary is the mean and t interval of the runs; geometry is convgeom.trace's
    for s in data["summary"]:
        accs = [float(r["test_accuracy"]) for r in runs if r["variant"] == s["variant"]]
        ci = stats.mean_ci(accs)
        assert s["accuracy_mean"] == pytest.approx(ci.mean) and s["accuracy_ci_high"] == pytest.approx(ci.high)
        spec = ModelSpec(kernel=s["kernel"], padding_mode=s["padding_mode"], depth=2, width=4)
        assert s["receptive_field"] == geometry(spec, 1, 4, 16)["receptive_field"]
    report = (out / "report.md").read_text()
    assert "## Results" in report and "kernel=3, padding_mode=circular" in report and "conv1 16x16 → pool1 8x8" in report
    assert "![receptive_field](plots/receptive_field.png)" in report


def test_interrupt_keeps_finished_runs_and_resume_continues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []
    real = backends.run_trial

    def interrupted(trial: Any, data: Any, on_epoch: Any = None) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt          # Ctrl-C during the third trial
        calls.append(trial.id)
        return real(trial, data, on_epoch)

    monkeypatch.setattr(backends, "run_trial", interrupted)
    out = tmp_path / "o"
    code, _, err = _main(capsys, *TINY, "--out", str(out), "--no-plots")
    assert code == 130
    assert err.strip().splitlines()[-1].startswith("convgeom: interrupted: 2 of 4 runs saved")
    assert len(RunStore(str(out)).load()) == 2
    assert "2 of 4 runs finished" in (out / "report.md").read_text()
    # a torn last line (killed mid-write) is skipped, not fatal
    with (out / "runs.jsonl").open("a") as fh:
        fh.write('{"format": 1, "id": "tor')
    code, _, err = _main(capsys, *TINY, "--out", str(out), "--no-plots")
    assert code == 2 and "already holds 2 finished runs" in err and "--resume" in err

    monkeypatch.setattr(backends, "run_trial", lambda t, d, e=None: (calls.append(t.id), real(t, d, e))[1])
    code, stdout, err = _main(capsys, *TINY, "--out", str(out), "--no-plots", "--resume", "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert (data["reused"], data["ran"], data["finished"]) == (2, 2, 4)
    assert len(calls) == 4 and len(set(calls)) == 4            # no trial ran twice
    # the same as a sweep that was never interrupted
    monkeypatch.setattr(backends, "run_trial", real)
    ref = tmp_path / "ref"
    assert _main(capsys, *TINY, "--out", str(ref), "--no-plots")[0] == 0
    resumed, whole = RunStore(str(out)).load(), RunStore(str(ref)).load()
    assert resumed.keys() == whole.keys()
    assert all(comparable(resumed[k]) == comparable(whole[k]) for k in whole)


def test_resume_with_more_seeds_runs_only_the_new_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "o"
    assert _main(capsys, *TINY, "--seeds", "1", "--out", str(out), "--no-plots")[0] == 0
    code, stdout, _ = _main(capsys, *TINY, "--out", str(out), "--resume", "--json")
    data = json.loads(stdout)
    assert code == 0 and (data["reused"], data["ran"]) == (2, 2)
    # every variant has the same receptive field here: no plot against it
    assert (out / "plots" / "accuracy.png").is_file() and not (out / "plots" / "receptive_field.png").exists()


def test_ray_and_local_give_identical_results(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from convgeom.experiments.config import ConfigError

    experiment = parse(TINY_CONFIG)
    local = run(experiment, Options(out=str(tmp_path / "local"), plots=False, progress=False))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)   # one Ray for both calls below
    try:
        on_ray = run(experiment, Options(out=str(tmp_path / "ray"), backend="ray", plots=False, progress=False))
        assert ray.is_initialized()                     # a Ray it did not start is left running
        with pytest.raises(ConfigError, match="asks Ray for 1 GPUs but the cluster has 0"):
            run(experiment, Options(out=str(tmp_path / "gpu"), backend="ray", gpus_per_trial=1, plots=False,
                                    progress=False))
    finally:
        ray.shutdown()
    assert len(local.records) == len(on_ray.records) == 4
    assert {r["backend"] for r in on_ray.records} == {"ray"}
    assert [comparable(r) for r in local.records] == [comparable(r) for r in on_ray.records]


def _records(values: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [{"dataset": "border", "variant": f"padding_mode={mode}", "seed": s, "test_accuracy": acc,
             "macs": 100 if mode == "zeros" else 90}
            for mode, accs in values.items() for s, acc in enumerate(accs)]


@pytest.mark.parametrize("circular, zeros, verdict", [
    ([0.80, 0.82, 0.85], [0.60, 0.61, 0.66], "supported"),
    ([0.50, 0.52, 0.55], [0.70, 0.71, 0.76], "contradicted"),
    ([0.70, 0.62, 0.75], [0.69, 0.66, 0.72], "not shown"),
    ([0.70, 0.70, 0.70], [0.60, 0.60, 0.60], "not shown"),     # no variation: the t-test is undefined
])
def test_claim_verdicts(circular: list[float], zeros: list[float], verdict: str) -> None:
    e = parse({**TINY_CONFIG, "seeds": 3})
    v = analysis.judge(e.claims[0], e, _records({"zeros": zeros, "circular": circular}))
    assert v.verdict == verdict
    (c,) = v.comparisons
    assert c.a == "padding_mode=circular" and c.b == "padding_mode=zeros"
    assert f"-> {verdict}" in v.lines[0]


@pytest.mark.parametrize("losses, accuracies, verdict", [
    ([1.0, 0.8, 0.5], [0.4, 0.6, 0.9], "supported"),
    ([1.0, 0.8, 0.9], [0.4, 0.6, 0.9], "not shown"),          # the loss rose once
    ([0.5, 0.1, 0.05], [0.9, 1.0, 1.0], "supported"),         # accuracy saturated at 100%
    ([1.0, 0.8, 0.5], [0.6, 0.5, 0.9], "not shown"),          # accuracy fell once
])
def test_trace_claim(losses: list[float], accuracies: list[float], verdict: str) -> None:
    e = parse(TINY_CONFIG)
    runs = [{"dataset": "border", "variant": "v", "seed": s,
             "epochs": [{"train_loss": x, "train_accuracy": a} for x, a in zip(losses, accuracies)]} for s in (0, 1)]
    v = analysis.judge(e.claims[1], e, runs)
    assert v.verdict == verdict and "loss fell every epoch in" in v.lines[0]


def test_exact_metrics_need_no_test() -> None:
    e = parse({**TINY_CONFIG, "claims": [{"id": "m", "text": "fewer MACs", "source": "s", "metric": "macs",
                                          "expect": "less", "a": {"padding_mode": "circular"},
                                          "b": {"padding_mode": "zeros"}}]})
    v = analysis.judge(e.claims[0], e, _records({"zeros": [0.5, 0.6], "circular": [0.5, 0.6]}))
    assert v.verdict == "supported" and "exact, from convgeom.trace" in v.lines[0]


@pytest.mark.parametrize("module, args, extra", [
    ("ray", [*TINY, "--backend", "ray"], "convgeom[ray]"),
    ("matplotlib", TINY, "convgeom[experiments]"),
    ("sklearn", ["--dataset", "digits", "--epochs", "1", "--seeds", "1"], "convgeom[experiments]"),
])
def test_missing_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   module: str, args: list[str], extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)     # importing it now raises ImportError
    code, out, err = _main(capsys, *args, "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"pip install '{extra}'" in lines[0], err
    assert not (tmp_path / "o").exists()


def test_progress_bars_show_runs_and_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    e = parse(TINY_CONFIG)
    progress = Progress(True, 4, 1, "tiny")
    callback = progress.epoch_callback(e.trials()[0])
    assert callback is not None
    callback(1, 2, {"train_loss": 1.0, "val_accuracy": 0.5})
    callback(2, 2, {"train_loss": 0.5, "val_accuracy": 0.75})
    progress.finished({"dataset": "border", "variant": "x", "test_accuracy": 0.7})
    progress.close()
    err = capsys.readouterr().err
    assert "tiny" in err and "2/4" in err and "epoch" in err
    assert Progress(False, 4, 0, "tiny").epoch_callback(e.trials()[0]) is None


def test_real_ctrl_c_keeps_runs_and_exits_130(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "convgeom", "experiment", *TINY, "--epochs", "40", "--out", str(out), "--no-plots"]
    # a shell starts background jobs with SIGINT ignored: give the child the default handler back
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    runs = out / "runs.jsonl"
    deadline = time.monotonic() + 600
    while not (runs.is_file() and runs.stat().st_size) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    kept = len(RunStore(str(out)).load())
    if proc.returncode == 0:           # the machine was fast enough to finish before the signal
        assert kept == 4
        return
    assert proc.returncode == 130 and 1 <= kept < 4
    assert err.strip().splitlines()[-1] == (f"convgeom: interrupted: {kept} of 4 runs saved in {out}; "
                                            "run the same command with --resume to continue")
    assert os.path.isfile(out / "report.md")


def test_sigterm_ends_the_sweep_like_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    real = backends.run_trial
    calls: list[str] = []

    def killed(trial: Any, data: Any, on_epoch: Any = None) -> Any:
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)        # what `kill PID` or a batch scheduler sends
        calls.append(trial.id)
        return real(trial, data, on_epoch)

    monkeypatch.setattr(backends, "run_trial", killed)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = _main(capsys, *TINY, "--out", str(tmp_path / "o"), "--no-plots")
    assert code == 130 and "interrupted: 1 of 4 runs saved" in err
    assert len(RunStore(str(tmp_path / "o")).load()) == 1
    assert signal.getsignal(signal.SIGTERM) == before
