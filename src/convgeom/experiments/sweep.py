"""A sweep: check the extras and every model's geometry first, then run the trials not yet
finished on a backend, appending each finished run to the output folder as it ends (an
interruption keeps them; ``resume`` skips them), with progress bars on a terminal."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Optional

from ..optional import require
from .backends import get_backend
from .config import ConfigError, DataSpec, Experiment, ModelSpec, Trial, variant_label
from .data import Dataset, Images, images, split
from .store import FORMAT, RunStore, write_json
from .training import EpochCallback


@dataclass(frozen=True)
class Options:
    """How to run a sweep (not what: that is the :class:`Experiment`)."""

    out: str
    backend: str = "local"
    address: Optional[str] = None
    cpus: Optional[int] = None              # CPUs of a local Ray (default: all)
    gpus_per_trial: Optional[float] = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    plots: bool = True


@dataclass(frozen=True)
class Outcome:
    records: list[dict[str, Any]]           # finished runs of this experiment, in trial order
    reused: int                             # finished before this call (resume)
    ran: int                                # finished by this call
    total: int                              # trials in the experiment
    interrupted: bool


def resolve_device(experiment: Experiment) -> Experiment:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    torch = require("torch", "convgeom experiment", "experiments")
    device = experiment.train.device
    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        device = "cuda" if has_cuda else "cpu"
    elif device == "cuda" and not has_cuda:
        raise ConfigError("--device cuda, but torch sees no CUDA GPU", fix="use --device cpu or auto")
    return replace(experiment, train=replace(experiment.train, device=device))


def check_extras(experiment: Experiment, options: Options) -> None:
    """Every package the sweep will need, before anything runs (one line naming the extra)."""
    require("numpy", "convgeom experiment", "experiments")
    require("torch", "convgeom experiment", "experiments")
    names = {d.name for d in experiment.datasets}
    if "digits" in names:
        require("sklearn", "the digits data set", "experiments")
    if "folder" in names:
        require("PIL", "reading a folder of images", "experiments")
    if options.plots:
        require("matplotlib", "the plots (or pass --no-plots)", "experiments")
    if options.progress:
        require("tqdm", "the progress bars (or pass --quiet)", "experiments")
    if options.backend == "ray":
        require("ray", "--backend ray")


class DataCache:
    """Images per source (generated tasks: per seed) and the current seed's splits; splits of
    other seeds are dropped (trials come seed by seed), so memory stays at one seed's worth."""

    def __init__(self) -> None:
        self.sources: dict[tuple[DataSpec, int], Images] = {}
        self.splits: dict[tuple[DataSpec, int], Dataset] = {}

    def images(self, spec: DataSpec, seed: int) -> Images:
        key = (spec, seed if spec.generated else 0)
        if key not in self.sources:
            if spec.generated:   # keep one seed of generated images per task
                self.sources = {k: v for k, v in self.sources.items() if k[0] != spec}
            self.sources[key] = images(spec, seed)
        return self.sources[key]

    def __call__(self, trial: Trial) -> Dataset:
        key = (trial.dataset, trial.seed)
        if key not in self.splits:
            self.splits = {k: v for k, v in self.splits.items() if k[1] == trial.seed}
            self.splits[key] = split(self.images(trial.dataset, trial.seed), trial.seed)
        return self.splits[key]


def validate(experiment: Experiment) -> None:
    """Cheap checks before any heavy import: every model's geometry at every data set's size
    (convgeom's engine, no torch) and that data paths exist."""
    from .models import plan

    for d in experiment.datasets:
        if d.path is not None and not os.path.exists(d.path):
            raise ConfigError(f"{d.name} path {d.path!r} does not exist",
                              fix="give an existing .npz file" if d.name == "npz" else "give an existing folder")
        for m in experiment.variants():
            plan(m, d.size)


def dry_run(experiment: Experiment, options: Options) -> tuple[Experiment, list[dict[str, Any]]]:
    """Every check :func:`run` makes, and every model described (params, MACs, receptive
    field, findings, layer output sizes, from ``convgeom.trace``); trains nothing. Returns the
    experiment with its device resolved and one row per (data set, variant)."""
    validate(experiment)
    check_extras(experiment, options)
    experiment = resolve_device(experiment)
    geo = geometries(experiment, DataCache())
    rows = []
    for d in experiment.datasets:
        for m in experiment.variants():
            g = geo[(d, m)]
            rows.append({"dataset": d.label, "variant": variant_label(m, experiment.varying),
                         "params": g["params"], "macs": g["macs"], "receptive_field": g["receptive_field"],
                         "findings": g["findings"], "sizes": [layer["output"] for layer in g["layers"]]})
    return experiment, rows


def geometries(experiment: Experiment, cache: DataCache) -> dict[tuple[DataSpec, ModelSpec], dict[str, Any]]:
    """``convgeom.trace`` of every (dataset, variant) model."""
    from .models import geometry

    out: dict[tuple[DataSpec, ModelSpec], dict[str, Any]] = {}
    by_shape: dict[tuple[ModelSpec, int, int, int], dict[str, Any]] = {}
    variants = experiment.variants()
    for d in experiment.datasets:
        imgs = cache.images(d, experiment.seeds[0])
        for m in variants:
            key = (m, imgs.channels, len(imgs.classes), d.size)
            if key not in by_shape:
                by_shape[key] = geometry(m, *key[1:])
            out[(d, m)] = by_shape[key]
    return out


def record(trial: Trial, result: dict[str, Any], geo: dict[str, Any], experiment: Experiment,
           backend: str) -> dict[str, Any]:
    """One run as stored: identity, configuration, geometry (from the trace), results."""
    return {
        "format": FORMAT, "id": trial.id, "experiment": experiment.name,
        "dataset": trial.dataset.label, "dataset_spec": trial.dataset.to_dict(),
        "variant": trial.variant, "model": trial.model.to_dict(), "training": trial.train.to_dict(),
        "seed": trial.seed, "device": trial.train.device, "threads": trial.train.threads,
        **geo, **result, "backend": backend,
    }


class Progress:
    """A bar over the sweep's runs and, for in-process trials, one over the current trial's epochs."""

    def __init__(self, enabled: bool, total: int, done: int, name: str) -> None:
        self.enabled = enabled
        self.bar: Any = None
        if enabled:
            self.tqdm: Any = require("tqdm", "the progress bars (or pass --quiet)", "experiments").tqdm
            self.bar = self.tqdm(total=total, initial=done, desc=name, unit="run", file=sys.stderr, dynamic_ncols=True)

    def epoch_callback(self, trial: Trial) -> Optional[EpochCallback]:
        if not self.enabled:
            return None
        bar = self.tqdm(total=trial.train.epochs, desc=f"  {trial.dataset.label} {trial.variant} seed {trial.seed}",
                        unit="epoch", leave=False, file=sys.stderr, dynamic_ncols=True)

        def on_epoch(epoch: int, epochs: int, rec: dict[str, Any]) -> None:
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val_acc=f"{rec['val_accuracy']:.3f}")
            bar.update(1)
            if epoch == epochs:
                bar.close()

        return on_epoch

    def finished(self, rec: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(last=f"{rec['dataset']} {rec['variant']} acc {rec['test_accuracy']:.3f}")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def _ray_env(local: bool) -> Iterator[None]:
    """Ray reads these when it starts: no deduplicated worker logs, and for a Ray started here,
    workers at normal priority (Ray's default niceness 15 lets every other process on a shared
    machine go first, which made trials several times slower than in-process ones)."""
    settings = {"RAY_DEDUP_LOGS": "0", **({"RAY_worker_niceness": "0"} if local else {})}
    old = {k: os.environ.get(k) for k in settings}
    for k, v in settings.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, was in old.items():
            if was is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = was


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch scheduler) ends the sweep like Ctrl-C: finished runs are kept
    and a local Ray is shut down. Only in the main thread, restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run(experiment: Experiment, options: Options) -> Outcome:
    """Run the unfinished trials of ``experiment`` into ``options.out``."""
    validate(experiment)
    check_extras(experiment, options)
    experiment = resolve_device(experiment)
    cache = DataCache()
    geo = geometries(experiment, cache)
    store = RunStore(options.out)
    store.prepare(options.resume, options.overwrite)
    write_json(os.path.join(options.out, "experiment.json"), experiment.to_dict())
    trials = experiment.trials()
    finished = {k: v for k, v in store.load().items()} if options.resume else {}
    pending = [t for t in trials if t.id not in finished]
    reused = len(trials) - len(pending)
    ran, interrupted = 0, False
    progress = Progress(options.progress and sys.stderr.isatty(), len(trials), reused, experiment.name)
    try:
        if pending:
            with _ray_env(options.address is None):
                backend = get_backend(options.backend, options.address, options.cpus, options.gpus_per_trial)
            results = backend.run(pending, cache, progress.epoch_callback)
            try:
                with _terminate_as_interrupt():
                    for trial, result in results:
                        rec = record(trial, result, geo[(trial.dataset, trial.model)], experiment, backend.name)
                        store.append(rec)
                        finished[trial.id] = rec
                        ran += 1
                        progress.finished(rec)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                results.close()
                backend.close()
    finally:
        progress.close()
    records = []
    for t in trials:          # labels follow the current grid, also for resumed runs
        if t.id in finished:
            records.append({**finished[t.id], "dataset": t.dataset.label, "variant": t.variant,
                            "experiment": experiment.name})
    return Outcome(records, reused, ran, len(trials), interrupted)
