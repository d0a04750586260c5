"""One trial: build the model from its seed, train it, record seed 001's epoch trace (loss and
accuracy, train and validation, per epoch), test it and time it.

Determinism: everything random comes from the trial's seed: the weights
(``torch.manual_seed`` inside ``torch.random.fork_rng``, so the caller's RNG is untouched),
the mini-batch order (NumPy ``default_rng``) and, for generated tasks, the images. The trial
runs with ``torch.use_deterministic_algorithms(True)`` and a fixed number of intra-op threads
(``threads``; both are restored afterwards), so the same trial gives the same numbers, to the
bit, in any process on the same machine and software: in-process or in a Ray worker. The
timings vary, and so may the numbers on another CPU, another torch/oneDNN build or a GPU.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

from .config import Trial
from .data import Dataset
from .models import build

if TYPE_CHECKING:
    import torch

#: ``on_epoch(epoch, epochs, record)`` after every epoch (progress bars).
EpochCallback = Callable[[int, int, dict[str, Any]], None]


@contextmanager
def deterministic(threads: int, device: str) -> Iterator[None]:
    """Deterministic kernels and ``threads`` intra-op threads for the block; restores both."""
    import torch

    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    old_cudnn = torch.backends.cudnn.benchmark
    if device == "cuda":
        # cuBLAS is deterministic only with a fixed workspace (set before its first use)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
        torch.backends.cudnn.benchmark = old_cudnn


def _evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode, without gradients."""
    import torch

    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            logits = model(x[i:i + batch])
            loss += float(torch.nn.functional.cross_entropy(logits, y[i:i + batch], reduction="sum"))
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return loss / len(y), correct / len(y)


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                 perm: torch.Tensor, batch: int, device: str) -> tuple[float, float, float]:
    """One pass over ``x`` in the order ``perm``: mean loss and accuracy as training saw them
    (seed 001's trace) and the seconds it took."""
    import torch

    model.train()
    loss_sum, correct = 0.0, 0
    _sync(device)
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        idx = perm[i:i + batch]
        optimizer.zero_grad(set_to_none=True)
        logits = model(x[idx])
        loss = torch.nn.functional.cross_entropy(logits, y[idx])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        loss_sum += float(loss.detach()) * len(idx)
        correct += int((logits.argmax(1) == y[idx]).sum())
    _sync(device)
    return loss_sum / len(y), correct / len(y), time.perf_counter() - start


def run_trial(trial: Trial, data: Dataset, on_epoch: Optional[EpochCallback] = None) -> dict[str, Any]:
    """Train and test ``trial.model`` on ``data``; the result's numbers are functions of the
    trial alone, except the ``*seconds`` and ``*_ms_per_image`` timings."""
    import numpy as np
    import torch

    train, device = trial.train, trial.train.device
    with deterministic(train.threads, device):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(trial.seed)
            model = build(trial.model, data.channels, len(data.classes), data.size).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
        x_tr, y_tr, x_va, y_va, x_te, y_te = (torch.from_numpy(a).to(device) for a in (
            data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test))
        order = np.random.default_rng([trial.seed, 0x0DE5])
        epochs: list[dict[str, Any]] = []
        for epoch in range(1, train.epochs + 1):
            perm = torch.from_numpy(order.permutation(len(y_tr))).to(device)
            loss, acc, seconds = _train_epoch(model, optimizer, x_tr, y_tr, perm, train.batch_size, device)
            val_loss, val_acc = _evaluate(model, x_va, y_va, train.batch_size)
            record = {"epoch": epoch, "train_loss": loss, "train_accuracy": acc,
                      "val_loss": val_loss, "val_accuracy": val_acc, "seconds": seconds}
            if not (math.isfinite(loss) and math.isfinite(val_loss)):
                record["diverged"] = True
            epochs.append(record)
            if on_epoch is not None:
                on_epoch(epoch, train.epochs, record)
        _sync(device)
        start = time.perf_counter()
        test_loss, test_acc = _evaluate(model, x_te, y_te, train.batch_size)
        _sync(device)
        infer_seconds = time.perf_counter() - start
    train_seconds = math.fsum(e["seconds"] for e in epochs)
    return {
        "epochs": epochs, "test_loss": test_loss, "test_accuracy": test_acc,
        "train_seconds": train_seconds,
        "train_ms_per_image": 1000.0 * train_seconds / (train.epochs * len(y_tr)),
        "infer_ms_per_image": 1000.0 * infer_seconds / len(y_te),
        "n_train": len(y_tr), "n_val": len(y_va), "n_test": len(y_te), "classes": len(data.classes),
        "torch": torch.__version__,
    }
