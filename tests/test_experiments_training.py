"""One trial: the training loop, its metrics against an independent evaluation, determinism, and
that the border task is learnable."""

from __future__ import annotations

from typing import Any

import pytest

from convgeom.experiments import data as D
from convgeom.experiments import training as T
from convgeom.experiments.config import DataSpec, ModelSpec, TrainSpec, Trial
from convgeom.experiments.store import comparable

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
metrics = pytest.importorskip("sklearn.metrics")

TINY = ModelSpec(kernel=3, padding="same", downsample="maxpool", depth=2, width=4)


def _bright_dark(n: int = 150, seed: int = 0) -> D.Dataset:
    """Class 1 images are brighter: learnable in a couple of epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.normal(0, 0.3, (n, 1, 8, 8)) + y[:, None, None, None] * 1.0).astype(np.float32)
    return D.split(D.Images(x, y.astype(np.int64), ("dark", "bright")), seed)


def test_metrics_match_an_independent_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []
    real_build = T.build

    def keep(*args: Any) -> Any:
        built.append(real_build(*args))
        return built[-1]

    monkeypatch.setattr(T, "build", keep)
    data = _bright_dark()
    result = T.run_trial(Trial(DataSpec("npz", size=8, path="x"), TINY, TrainSpec(epochs=3, batch_size=16), 0), data)
    model = built[0].eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(data.x_test))
    probs = torch.softmax(logits, 1).numpy().astype(np.float64)
    assert result["test_accuracy"] == metrics.accuracy_score(data.y_test, probs.argmax(1))
    assert result["test_loss"] == pytest.approx(metrics.log_loss(data.y_test, probs, labels=[0, 1]), rel=1e-5)
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    assert (result["n_train"], result["n_val"], result["n_test"], result["classes"]) == (90, 30, 30, 2)
    assert result["train_ms_per_image"] > 0 and result["infer_ms_per_image"] > 0


def test_training_learns_an_easy_task_and_the_trace_moves() -> None:
    result = T.run_trial(Trial(DataSpec("npz", size=8, path="x"), TINY, TrainSpec(epochs=5, batch_size=16, lr=0.01), 0),
                         _bright_dark(200))
    losses = [e["train_loss"] for e in result["epochs"]]
    assert losses[-1] < 0.5 * losses[0]
    assert result["test_accuracy"] >= 0.95


def test_trial_is_deterministic_and_leaves_torch_as_it_found_it() -> None:
    data = _bright_dark()
    trial = Trial(DataSpec("npz", size=8, path="x"), TINY, TrainSpec(epochs=2, batch_size=16, threads=1), 0)
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    rng_state = torch.get_rng_state()
    first, second = T.run_trial(trial, data), T.run_trial(trial, data)
    assert comparable(first) == comparable(second)
    other = T.run_trial(Trial(trial.dataset, trial.model, trial.train, 1), data)
    assert comparable(other)["epochs"] != comparable(first)["epochs"]
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_epoch_callback_sees_every_epoch() -> None:
    seen: list[tuple[int, int, float]] = []
    T.run_trial(Trial(DataSpec("npz", size=8, path="x"), TINY, TrainSpec(epochs=3, batch_size=32), 0), _bright_dark(),
                lambda e, n, rec: seen.append((e, n, rec["val_accuracy"])))
    assert [(e, n) for e, n, _ in seen] == [(1, 3), (2, 3), (3, 3)]


def test_border_task_is_learnable() -> None:
    """One configuration far above chance (25%) on the generated border task."""
    spec = DataSpec("border", size=16, samples=1000)
    trial = Trial(spec, ModelSpec(padding_mode="replicate", width=16, depth=3), TrainSpec(epochs=6, batch_size=32), 0)
    result = T.run_trial(trial, D.split(D.images(spec, 0), 0))
    assert result["test_accuracy"] >= 0.6, result["test_accuracy"]
