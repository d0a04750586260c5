"""Where trials run: in this process (``local``, one after another) or as Ray tasks (``ray``:
one task per trial with its CPU/GPU request, on a local Ray or an existing cluster). Both run
the same :func:`~convgeom.experiments.training.run_trial` on the same arrays, so they return
the same numbers (timings aside); results arrive in completion order.

On a cluster every node needs convgeom with its ``experiments`` extra installed; the data
travel through Ray's object store (one object per dataset and seed), so ``npz``/``folder``
paths need exist only where the command runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from typing import Any, Optional, Protocol

from ..errors import GeometryError
from ..optional import require
from .config import ConfigError, Trial
from .data import Dataset
from .training import EpochCallback, run_trial

#: ``data_for(trial)``: the seed's split of the trial's dataset (the sweep caches them).
DataFor = Callable[[Trial], Dataset]
#: ``epoch_callback(trial)``: a per-epoch callback for that trial, or None.
EpochFor = Callable[[Trial], Optional[EpochCallback]]
#: ``(trial, result)`` pairs as trials finish; closing the generator cancels what is left.
Results = Generator[tuple[Trial, dict[str, Any]], None, None]


class TrialFailed(GeometryError):
    """A trial raised; the runs finished before it are kept."""


class Backend(Protocol):
    name: str

    def run(self, trials: Sequence[Trial], data_for: DataFor,
            epoch_callback: EpochFor) -> Results: ...

    def close(self) -> None: ...


def _failed(trial: Trial, exc: BaseException) -> TrialFailed:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return TrialFailed(f"trial {trial.dataset.label} / {trial.variant} / seed {trial.seed} raised "
                       f"{type(exc).__name__}: {detail}",
                       fix="finished runs are saved; fix the cause and continue with --resume")


class LocalBackend:
    """Trials one after another in this process (per-epoch progress available)."""

    name = "local"

    def run(self, trials: Sequence[Trial], data_for: DataFor,
            epoch_callback: EpochFor) -> Results:
        for trial in trials:
            data = data_for(trial)
            try:
                result = run_trial(trial, data, epoch_callback(trial))
            except (RuntimeError, ValueError, MemoryError) as exc:
                raise _failed(trial, exc) from exc
            yield trial, result

    def close(self) -> None:
        pass


def _remote_trial(trial: Trial, data: Dataset) -> dict[str, Any]:
    return run_trial(trial, data, None)


class RayBackend:
    """One Ray task per trial, ``num_cpus`` = the trial's threads and ``num_gpus`` =
    ``gpus_per_trial`` (default 1 for cuda trials, else 0). ``address`` None starts a local Ray
    (``cpus`` CPUs, default all) and stops it on :meth:`close`; a Ray already initialised in
    this process is used as it is."""

    name = "ray"

    def __init__(self, address: Optional[str] = None, cpus: Optional[int] = None,
                 gpus_per_trial: Optional[float] = None) -> None:
        self.ray = require("ray", "--backend ray")
        self.gpus_per_trial = gpus_per_trial
        self.owned = not self.ray.is_initialized()
        if self.owned:
            try:
                self.ray.init(address=address, num_cpus=None if address else cpus, include_dashboard=False,
                              log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise ConfigError(f"cannot start {where}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                                  fix="check --address (ray status on the head node) or use --backend local") from None
        self.remote = self.ray.remote(_remote_trial)

    def run(self, trials: Sequence[Trial], data_for: DataFor,
            epoch_callback: EpochFor) -> Results:
        ray = self.ray
        refs: dict[tuple[Any, int], Any] = {}
        pending: dict[Any, Trial] = {}
        for trial in trials:
            gpus = self.gpus_per_trial if self.gpus_per_trial is not None else (1 if trial.train.device == "cuda" else 0)
            self._check_fits(trial.train.threads, gpus)
            key = (trial.dataset, trial.seed)
            if key not in refs:
                refs[key] = ray.put(data_for(trial))
            task = self.remote.options(num_cpus=trial.train.threads, num_gpus=gpus, max_retries=0)
            pending[task.remote(trial, refs[key])] = trial
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                trial = pending.pop(done[0])
                try:
                    result = ray.get(done[0])
                except ray.exceptions.RayTaskError as exc:
                    raise _failed(trial, exc.cause if exc.cause is not None else exc) from exc
                yield trial, result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _check_fits(self, cpus: int, gpus: float) -> None:
        """A request no node can meet would wait for ever: refuse it with one line instead."""
        total = self.ray.cluster_resources()
        for name, want, flag in (("CPU", cpus, "--threads"), ("GPU", gpus, "--gpus-per-trial")):
            have = float(total.get(name, 0))
            if want > have:
                raise ConfigError(f"a trial asks Ray for {want:g} {name}s but the cluster has {have:g}",
                                  fix=f"lower {flag}" + (" or --device cpu" if name == "GPU" else " or raise --ray-cpus"))

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def get_backend(name: str, address: Optional[str] = None, cpus: Optional[int] = None,
                gpus_per_trial: Optional[float] = None) -> Backend:
    if name == "local":
        if address:
            raise ConfigError("--address needs --backend ray", fix="add --backend ray or drop --address")
        return LocalBackend()
    if name == "ray":
        return RayBackend(address, cpus, gpus_per_trial)
    raise ConfigError(f"unknown backend {name!r}", fix="use local or ray")
