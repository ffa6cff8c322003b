"""Thesis Figs. 31-33: network accuracy drop vs threshold variation, kernel size, HAT, tuning.

For every model (an MLP and a compact ConvNet) and HAT strength ``zeta`` the model is
trained once (hardware-aware when ``zeta > 0``, thesis 3.5.1); for every kernel size N,
threshold variation sigma, tuning algorithm and hardware instance, every kernel of the
model is programmed on freshly sampled crossbars (:func:`xbarsim.nn.program_model`) and the
test accuracy of the deployed model is compared with the software accuracy.

Seeds by point identity (:mod:`xbarsim.seeding`): hardware instance ``i`` of a point is
seeded from the root seed, the point's hardware parameters ``{device, kernel size, sigma}``
and ``i`` -- never from the position of N or sigma in the option lists -- so a point run
alone equals the same point inside any grid. Model, zeta and algorithm do not enter, so
those comparisons are paired (the same chips).

Drops are reported two ways: against the model's own software accuracy
(``accuracy_drop_*``) and against the stated baseline, the zeta = 0 model of the same
architecture (``baseline_software_accuracy``, ``accuracy_drop_vs_baseline_mean``), which is
trained whenever HAT models are (thesis Figs. 32-33 measure HAT drops against it).

Datasets: scikit-learn's 8 x 8 digits (grey levels, up-sampled by pixel repetition, 16 x 16
by default) or CIFAR-10 from local pickles. The thesis's networks are a CIFAR-10 ConvNet and
ImageNet ResNet-18, so its numbers are shown for orientation, not as a like-for-like target.

Algorithms: ``"baseline"`` (thesis write-verify, V/2, 10 passes) and ``"improved"`` (thesis
3.5.2: decreasing cap, pre-stage, partner compensation;
:class:`~xbarsim.programming.improved.ImprovedTuning`).

Circuit (``lines`` other than ``ideal`` and/or ``periphery`` other than ``none``): every
programmed instance is also evaluated with its kernels' effective matrices for those lines
(IR drop) and the read path DAC → TIA → ADC in every analog layer, its ranges calibrated
on the first ``calibration_images`` training images
(:func:`xbarsim.nn.periphery.attach_periphery`). A case then also holds
``circuit_accuracy_mean``, ``circuit_accuracies``, ``circuit_drop_vs_ideal_read`` (the
ideal read minus the circuit read of the same instances: mean, std, quantiles) and
``circuit_rates`` (DAC clip, TIA saturation and ADC clip rates per layer, mean over
instances).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xbarsim.crossbar.lines import lines_preset
from xbarsim.devices.config import preset
from xbarsim.distribution import describe
from xbarsim.errors import XbarsimInputError
from xbarsim.experiments.chapter2 import data_fields
from xbarsim.mapping.config import ChipConfig
from xbarsim.periphery.read_path import periphery_preset
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import resolve_engine
from xbarsim.programming.improved import ImprovedTuning
from xbarsim.progress import progress_bar
from xbarsim.seeding import point_seed
from xbarsim.validation import check_positive_int, check_seed

if TYPE_CHECKING:  # torch is imported only when a study runs
    from torch import nn

    from xbarsim.nn.data import Dataset

MODELS = ("mlp", "convnet")
DATASETS = ("digits", "cifar10")
ALGORITHMS = ("baseline", "improved")
CASE_FIELDS = (
    "model",
    "dataset",
    "size",
    "sigma",
    "zeta",
    "algorithm",
    "software_accuracy",
    "accuracy_mean",
    "accuracy_drop_mean",
    "accuracy_drop_std",
    "accuracy_drop_quantiles",
    "baseline_software_accuracy",
    "accuracy_drop_vs_baseline_mean",
    "instances",
)


@dataclass(frozen=True)
class NetworkStudySetup:
    """Grid and training parameters of the network study.

    Attributes
    ----------
    models : tuple of {"mlp", "convnet"}
    dataset : {"digits", "cifar10"}
    cifar10_dir : str or None
        Directory of the CIFAR-10 python pickles (dataset "cifar10").
    sizes : tuple of int
        Kernel sizes N (>= 1).
    sigmas : tuple of float
        Normalized threshold variations (>= 0).
    zetas : tuple of float
        HAT perturbation half-widths, each in [0, 1).
    algorithms : tuple of {"baseline", "improved"}
    instances : int
        Hardware instances per point (the thesis: 12).
    tolerance : float
        Write-verify target relative error.
    epochs, lr, batch_size : training (Adam, cross-entropy)
    upsample : int
        Pixel repetition factor for digits (8 x 8 images become ``8 upsample`` square).
    n_test : int or None
        Use only the first ``n_test`` test images.
    seed : int
    engine : str
    device : str
        Device preset (default the thesis's uniformity study, no faults).
    lines : str
        :class:`~xbarsim.crossbar.LinesPreset` of every kernel (``ideal``: no IR drop).
    periphery : str
        Read-path preset (``none``, ``thesis``, ``thesis-8bit``).
    calibration_images : int
        Training images the converter ranges are calibrated on.
    """

    models: tuple[str, ...] = MODELS
    dataset: str = "digits"
    cifar10_dir: str | None = None
    sizes: tuple[int, ...] = (16, 64)
    sigmas: tuple[float, ...] = (0.05, 0.25)
    zetas: tuple[float, ...] = (0.0,)
    algorithms: tuple[str, ...] = ("baseline",)
    instances: int = 3
    tolerance: float = 0.01
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    upsample: int = 2
    n_test: int | None = None
    seed: int = 0
    engine: str = "auto"
    device: str = "thesis-uniformity"
    lines: str = "ideal"
    periphery: str = "none"
    calibration_images: int = 256

    def validate(self) -> NetworkStudySetup:
        """Check every field; raise :class:`XbarsimInputError` naming the first bad one."""
        from xbarsim.nn.layers import check_zeta

        for name, values, allowed in (
            ("models", self.models, MODELS),
            ("algorithms", self.algorithms, ALGORITHMS),
        ):
            if not values or any(v not in allowed for v in values):
                raise XbarsimInputError(
                    f"{name}: each must be one of {', '.join(allowed)}, got {list(values)}"
                )
        if self.dataset not in DATASETS:
            raise XbarsimInputError(
                f"dataset: must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        if self.dataset == "cifar10" and self.cifar10_dir is None:
            raise XbarsimInputError("cifar10_dir: required for dataset 'cifar10'")
        if self.dataset == "cifar10" and not Path(self.cifar10_dir or "").is_dir():
            from xbarsim.nn.data import CIFAR10_HELP

            raise XbarsimInputError(
                f"cifar10-dir: {self.cifar10_dir} is not a directory; {CIFAR10_HELP}"
            )
        if not self.sizes:
            raise XbarsimInputError("sizes: give at least one kernel size")
        for n in self.sizes:
            check_positive_int("kernel size", n)
        if not self.sigmas or any(not 0.0 <= s <= 2.0 for s in self.sigmas):
            raise XbarsimInputError(f"sigmas: each must lie in [0, 2], got {list(self.sigmas)}")
        if not self.zetas:
            raise XbarsimInputError("zetas: give at least one value in [0, 1)")
        for z in self.zetas:
            check_zeta(z)
        for name in ("instances", "epochs", "batch_size", "upsample"):
            check_positive_int(name, getattr(self, name))
        if self.n_test is not None:
            check_positive_int("n_test", self.n_test)
        if not self.lr > 0:
            raise XbarsimInputError(f"lr: must be > 0, got {self.lr:g}")
        check_seed(self.seed)
        resolve_engine(self.engine)
        preset(self.device)
        WriteVerify.thesis(tolerance=self.tolerance)
        lines_preset(self.lines)
        periphery_preset(self.periphery)
        check_positive_int("calibration_images", self.calibration_images)
        return self

    @property
    def circuit(self) -> Circuit | None:
        """The read circuit of the deployments, None when reads are ideal."""
        if self.lines == "ideal" and self.periphery == "none":
            return None
        return Circuit(self.lines, self.periphery, self.calibration_images)

    def algorithm(self, name: str) -> WriteVerify | ImprovedTuning:
        """The tuning algorithm called ``name`` at this study's tolerance."""
        if name == "improved":
            return ImprovedTuning.thesis(tolerance=self.tolerance)
        return WriteVerify.thesis(tolerance=self.tolerance)


@dataclass
class NetworkStudyResult:
    """Cases of the study (accuracies and drops as fractions)."""

    setup: NetworkStudySetup
    cases: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: ``{"dataset", "test_images", "image_accuracy", "cases": [...],
        "setup": {...}, "seconds": {...}}`` (the data fields as
        :func:`~xbarsim.experiments.chapter2.data_fields`)."""
        setup = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.setup).items()}
        return {**self.data, "cases": self.cases, "setup": setup, "seconds": self.seconds}


def load_dataset(setup: NetworkStudySetup) -> Dataset:
    """The study's dataset (digits grey levels up-sampled, or CIFAR-10)."""
    from xbarsim.nn.data import Dataset, load_cifar10, load_digits

    if setup.dataset == "cifar10":
        data = load_cifar10(setup.cifar10_dir or "")
    else:
        d = load_digits(seed=setup.seed, binarize_threshold=None)
        k = setup.upsample

        def up(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(x.repeat(k, axis=2).repeat(k, axis=3))

        data = Dataset("digits", up(d.x_train), d.y_train, up(d.x_test), d.y_test)
    return data.subset(None, setup.n_test)


def build_model(name: str, data: Dataset) -> nn.Module:
    """The untrained float model ``name`` for ``data``'s image shape."""
    from xbarsim.nn.training import convnet, mlp

    channels, height, width = data.image_shape
    if name == "mlp":
        return mlp(data.features, hidden=64, outputs=data.classes)
    if height != width or height % 4:
        raise XbarsimInputError(
            f"dataset: the convnet needs square images with a side divisible by 4, "
            f"got {height}x{width}"
        )
    return convnet(channels, height, data.classes, width=16)


def instance_seed(seed: int, device: str, size: int, sigma: float, instance: int) -> int:
    """Crossbar seed of one hardware instance: a hash of the root seed, the point's hardware
    parameters and the instance index (independent of model, zeta, algorithm and grid)."""
    return point_seed(
        seed, {"study": "network", "device": device, "size": size, "sigma": sigma}, instance
    )


@dataclass(frozen=True)
class Circuit:
    """Lines and periphery presets a deployed model is also read through."""

    lines: str
    periphery: str
    calibration_images: int


@dataclass(frozen=True)
class DeployJob:
    """One hardware instance: a trained model programmed on one sampled chip."""

    model: str
    zeta: float
    algorithm: str
    size: int
    sigma: float
    instance: int
    seed: int


def deployed_accuracy(
    model: nn.Module,
    chip: ChipConfig,
    seed: int,
    data: Dataset,
    circuit: Circuit | None = None,
) -> tuple[float, int, dict[str, Any] | None]:
    """Test accuracy of ``model`` programmed on a chip sampled from ``seed`` (one thread),
    the number of N x N kernel pairs it occupies, and with ``circuit`` the accuracy of the
    same programmed chip read through it and its per-layer clip / saturation rates
    (``{"accuracy": ..., "rates": {layer: {...}}}``)."""
    import torch

    from xbarsim.crossbar.irdrop import effective_matrix
    from xbarsim.nn.deploy import program_model
    from xbarsim.nn.periphery import attach_periphery
    from xbarsim.nn.training import accuracy, torch_threads

    with torch_threads(1):
        deployment = program_model(model, chip, seed=seed)
        ideal = accuracy(deployment.model, data.x_test, data.y_test)
        if circuit is None:
            return ideal, deployment.n_kernels, None
        lines = lines_preset(circuit.lines)
        if not lines.is_ideal:
            deployment.compute_with(effective_matrix(deployment.conductance, lines))
        path = periphery_preset(circuit.periphery)
        rates: dict[str, dict[str, float]] = {}
        if path is not None:
            sample = torch.as_tensor(data.x_train[: circuit.calibration_images])
            handle = attach_periphery(deployment.model, path, sample)
        read = accuracy(deployment.model, data.x_test, data.y_test)
        if path is not None:
            rates = handle.rates()
            handle.remove()
        return ideal, deployment.n_kernels, {"accuracy": read, "rates": rates}


def run_network_study(
    setup: NetworkStudySetup | None = None,
    progress: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
) -> NetworkStudyResult:
    """Run the grid; see the module docstring.

    Models are trained in this process; the hardware instances (one deployment each) run
    serially here (``workers=0``), on a local Dask cluster of ``workers`` processes, or on
    an existing scheduler. Every instance is seeded on its own, so the result does not
    depend on where it ran.

    Returns
    -------
    NetworkStudyResult
        One case per (model, zeta, algorithm, size, sigma) with the fields
        :data:`CASE_FIELDS` plus ``kernels`` (N x N crossbars per instance),
        ``accuracy_std`` and ``accuracies`` (per instance).
    """
    from xbarsim.nn.convert import convert
    from xbarsim.nn.training import accuracy, seeded, torch_threads, train

    setup = (NetworkStudySetup() if setup is None else setup).validate()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise XbarsimInputError(f"workers: must be an integer >= 0, got {workers!r}")
    t0 = time.perf_counter()
    data = load_dataset(setup)
    seconds = {"data": time.perf_counter() - t0, "training": 0.0, "deployment": 0.0}
    device = preset(setup.device)
    trained: dict[tuple[str, float], tuple[nn.Module, float]] = {}
    t1 = time.perf_counter()
    # the zeta = 0 model is the stated baseline of every HAT drop: train it in any case
    zetas = (0.0, *setup.zetas) if 0.0 not in setup.zetas else setup.zetas
    with torch_threads(1):
        for model_name in setup.models:
            for zeta in zetas:
                with seeded(setup.seed):
                    model = convert(build_model(model_name, data), ChipConfig(), zeta=zeta)
                train(
                    model,
                    data,
                    epochs=setup.epochs,
                    lr=setup.lr,
                    batch_size=setup.batch_size,
                    seed=setup.seed,
                )
                trained[model_name, zeta] = (model, accuracy(model, data.x_test, data.y_test))
    seconds["training"] = time.perf_counter() - t1
    jobs = [
        DeployJob(m, z, a, n, s, i, instance_seed(setup.seed, setup.device, n, s, i))
        for m in setup.models
        for z in setup.zetas
        for a in setup.algorithms
        for n in setup.sizes
        for s in setup.sigmas
        for i in range(setup.instances)
    ]

    circuit = setup.circuit

    def chip(job: DeployJob) -> ChipConfig:
        return ChipConfig(
            device=device.with_sigma(job.sigma),
            kernel=job.size,
            algorithm=setup.algorithm(job.algorithm),
            engine=setup.engine,
        )

    t2 = time.perf_counter()
    outcomes = _run_jobs(jobs, trained, chip, circuit, data, workers, scheduler, progress)
    seconds["deployment"] = time.perf_counter() - t2
    cases: list[dict[str, Any]] = []
    groups: dict[tuple, list[tuple[float, int, dict[str, Any] | None]]] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        key = (job.model, job.zeta, job.algorithm, job.size, job.sigma)
        groups.setdefault(key, []).append(outcome)
    for (model_name, zeta, algorithm, size, sigma), results in groups.items():
        software = trained[model_name, zeta][1]
        baseline = trained[model_name, 0.0][1]
        accs = [acc for acc, _, _ in results]
        drops = software - np.array(accs)
        dist = describe(drops)
        cases.append(
            {
                "model": model_name,
                "dataset": setup.dataset,
                "size": size,
                "sigma": sigma,
                "zeta": zeta,
                "algorithm": algorithm,
                "software_accuracy": software,
                "accuracy_mean": float(np.mean(accs)),
                "accuracy_drop_mean": dist["mean"],
                "accuracy_drop_std": dist["std"],
                "accuracy_drop_quantiles": dist["quantiles"],
                "baseline_software_accuracy": baseline,
                "accuracy_drop_vs_baseline_mean": float(baseline - np.mean(accs)),
                "instances": setup.instances,
                "accuracy_std": float(np.std(accs)),
                "accuracies": [float(a) for a in accs],
                "kernels": results[0][1],
            }
        )
        if circuit is not None:
            cases[-1].update(_circuit_fields(accs, [r[2] for r in results], circuit))
    seconds["total"] = time.perf_counter() - t0
    return NetworkStudyResult(setup, cases, seconds, data_fields(data))


def _circuit_fields(
    ideal: list[float], reads: list[dict[str, Any] | None], circuit: Circuit
) -> dict[str, Any]:
    """Case fields of the circuit reads: accuracies, drop vs the ideal read, mean rates."""
    accs = [float(r["accuracy"]) for r in reads if r is not None]
    per_layer: dict[str, dict[str, list[float]]] = {}
    for r in reads:
        for layer, rates in (r or {}).get("rates", {}).items():
            for key, value in rates.items():
                per_layer.setdefault(layer, {}).setdefault(key, []).append(value)
    return {
        "lines": circuit.lines,
        "periphery": circuit.periphery,
        "circuit_accuracy_mean": float(np.mean(accs)),
        "circuit_accuracies": accs,
        "circuit_drop_vs_ideal_read": describe(np.array(ideal) - np.array(accs)),
        "circuit_rates": {
            layer: {key: float(np.mean(v)) for key, v in rates.items()}
            for layer, rates in per_layer.items()
        },
    }


def _run_jobs(
    jobs, trained, chip, circuit, data, workers, scheduler, progress
) -> list[tuple[float, int, dict[str, Any] | None]]:
    """(accuracy, kernels, circuit read) of every job, in job order, serially or on Dask."""
    out: list[tuple[float, int, dict[str, Any] | None]] = [(0.0, 0, None)] * len(jobs)
    with progress_bar(len(jobs), "deploying", progress) as advance:
        if workers == 0 and scheduler is None:
            for k, job in enumerate(jobs):
                out[k] = deployed_accuracy(
                    trained[job.model, job.zeta][0], chip(job), job.seed, data, circuit
                )
                advance(1)
            return out
        from xbarsim.experiments.cluster import collect, connect

        client, cluster = connect(scheduler, workers)
        try:
            models = {
                key: client.scatter(model, broadcast=True) for key, (model, _) in trained.items()
            }
            data_future = client.scatter(data, broadcast=True)
            futures = {
                client.submit(
                    deployed_accuracy,
                    models[job.model, job.zeta],
                    chip(job),
                    job.seed,
                    data_future,
                    circuit,
                    pure=False,
                ): k
                for k, job in enumerate(jobs)
            }
            for k, result in collect(client, futures, lambda k: f"deployment {jobs[k]}"):
                out[k] = result
                advance(1)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return out


def published_drop(case: dict[str, Any]) -> float | None:
    """The thesis's ConvNet drop (Figs. 31-32) at the case's point, where one is printed."""
    from xbarsim.experiments.published import published_value

    if case["model"] != "convnet" or case["size"] != 64 or case["algorithm"] != "baseline":
        return None
    if not np.isclose(case["sigma"], 0.25):
        return None
    if case["zeta"] == 0.0:
        return float(published_value("T31_33_networks", "convnet_drop_sigma_0p25_n64"))
    if np.isclose(case["zeta"], 0.20):
        return float(published_value("T31_33_networks", "convnet_drop_with_hat_zeta_0p20"))
    return None


def plot_network_study(result: NetworkStudyResult, out: str | Path) -> list[Path]:
    """Figs. 31-33-style PNGs.

    * ``fig31_drop_boxplots_<model>.png``: box plots over hardware instances of the accuracy
      drop vs sigma, one panel per kernel size N (zeta = 0, baseline tuning; Fig. 31);
    * ``fig32_33_drop_vs_zeta_<model>.png``: mean drop (instance spread as error bars) vs
      HAT zeta, one line per (sigma, algorithm), for the largest N (Figs. 32-33);
    * ``fig31_33_accuracy_drop.png``: mean drop vs sigma for every (N, zeta, algorithm).

    Returns
    -------
    list of Path
    """
    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cases = result.cases
    models = list(dict.fromkeys(c["model"] for c in cases))
    paths: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        paths.append(out / name)

    for model in models:
        mine = [c for c in cases if c["model"] == model]
        zeta0 = min(c["zeta"] for c in mine)
        base = [c for c in mine if c["zeta"] == zeta0 and c["algorithm"] == mine[0]["algorithm"]]
        sizes = sorted({c["size"] for c in base})
        fig = Figure(figsize=(4 * len(sizes), 3.6))
        axes = fig.subplots(1, len(sizes), squeeze=False)[0]
        for ax, size in zip(axes, sizes, strict=True):
            cs = sorted((c for c in base if c["size"] == size), key=lambda c: c["sigma"])
            drops = [[100 * (c["software_accuracy"] - a) for a in c["accuracies"]] for c in cs]
            ax.boxplot(drops, tick_labels=[f"{c['sigma']:g}" for c in cs])
            ax.set_title(f"{model}, {size}x{size} kernels")
            ax.set_xlabel("σ (normalized threshold variation)")
            ax.set_ylabel("accuracy drop (%)")
        fig.suptitle(f"ζ = {zeta0:g}, {mine[0]['algorithm']} tuning, {result.setup.dataset}")
        save(fig, f"fig31_drop_boxplots_{model}.png")

        largest = max(c["size"] for c in mine)
        fig = Figure(figsize=(5, 3.6))
        ax = fig.subplots()
        lines: dict[tuple, list[dict]] = {}
        for c in mine:
            if c["size"] == largest:
                lines.setdefault((c["sigma"], c["algorithm"]), []).append(c)
        for (sigma, algorithm), cs in sorted(lines.items()):
            _drop_curve(ax, cs, "zeta", 1.0, f"σ={sigma:g}, {algorithm}")
        ax.set_xlabel("HAT ζ")
        ax.set_ylabel("accuracy drop (%)")
        ax.set_title(f"{model}, {largest}x{largest} kernels")
        ax.legend(fontsize=7)
        save(fig, f"fig32_33_drop_vs_zeta_{model}.png")

    fig = Figure(figsize=(5 * len(models), 3.8))
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models, strict=True):
        groups: dict[tuple, list[dict]] = {}
        for c in cases:
            if c["model"] == model:
                groups.setdefault((c["size"], c["zeta"], c["algorithm"]), []).append(c)
        for (size, zeta, alg), cs in groups.items():
            _drop_curve(ax, cs, "sigma", 100.0, f"N={size}, ζ={zeta:g}, {alg}")
        ax.set_xlabel("normalized threshold variation σ (%)")
        ax.set_ylabel("accuracy drop (%)")
        ax.set_title(f"{model} on {result.setup.dataset}")
        ax.legend(fontsize=7)
    save(fig, "fig31_33_accuracy_drop.png")
    return paths


def _drop_curve(ax: Any, cases: list[dict], x_key: str, x_scale: float, label: str) -> None:
    """Mean accuracy drop (%) vs ``x_key`` with the instance spread as error bars."""
    cases = sorted(cases, key=lambda c: c[x_key])
    ax.errorbar(
        [x_scale * c[x_key] for c in cases],
        [100 * c["accuracy_drop_mean"] for c in cases],
        yerr=[100 * c["accuracy_drop_std"] for c in cases],
        marker="o",
        capsize=3,
        label=label,
    )
