"""Peak-memory estimates of the experiments, checked before anything is allocated.

The estimates are products, not per-field bounds: arrays per device x devices per
crossbar x crossbars in flight (batch, tasks running at once, kernels of a deployed
network). The per-device constants were measured with the peak resident set size of
this repository's runs (``Crossbar.sample`` at 2000-4000 squared: 50-56 B per device;
``program-image`` 16 vs 256 squared: about 150 B per device) and rounded up; they are
upper bounds for planning, not predictions to the byte.
"""

from __future__ import annotations

import math

#: Interpreter, numpy, numba, matplotlib and torch loaded (bytes).
BASE_BYTES = 600 * 1024**2
#: A sampled crossbar's state plus the sampling temporaries (bytes per device).
SAMPLE_BYTES_PER_DEVICE = 64
#: Sampling plus write-verify programming: working copies, targets, counters, per-device
#: ramp tables and the result's copies (bytes per device).
PROGRAM_BYTES_PER_DEVICE = 200
#: Sampling plus the threshold measurement's maps (bytes per device).
THRESHOLD_BYTES_PER_DEVICE = 128
#: One float64 value (bytes).
FLOAT_BYTES = 8

#: Upper limits on counts that would otherwise run (nearly) unbounded.
MAX_EPOCHS = 10_000
MAX_INSTANCES = 10_000
MAX_TRIALS = 100_000
MAX_INPUTS = 1_000_000
MAX_CROSSBARS = 100_000


def thresholds_bytes(size: int) -> float:
    """Peak memory of ``thresholds`` on one ``size x size`` array (bytes)."""
    return BASE_BYTES + THRESHOLD_BYTES_PER_DEVICE * size * size


def image_tuning_bytes(size: int, crossbars: int = 1) -> float:
    """Peak memory of programming ``crossbars`` pictures of ``size x size`` (bytes)."""
    return BASE_BYTES + PROGRAM_BYTES_PER_DEVICE * size * size * crossbars


def vmm_task_bytes(size: int, pairs: int, weight_sets: int, inputs: int) -> float:
    """Memory of one VMM-study task (bytes), without the process's base.

    ``pairs`` crossbar pairs, each programmed with every one of ``weight_sets`` weight
    sets in one batch (``2 pairs weight_sets`` crossbars of ``size x size``), plus the
    weight sets' input vectors and the per-instance VMM outputs.
    """
    crossbars = 2 * pairs * weight_sets
    programming = PROGRAM_BYTES_PER_DEVICE * size * size * crossbars
    vectors = FLOAT_BYTES * inputs * size * (weight_sets + 6)
    return programming + vectors


def irdrop_study_bytes(sizes: list[int], inputs: int) -> float:
    """Peak memory of ``irdrop-study`` (bytes): its largest point's programmed pair and the
    input vectors with their ideal, IR-dropped and error outputs (about six ``inputs x N``
    float arrays at once)."""
    n = max(sizes, default=1)
    return BASE_BYTES + PROGRAM_BYTES_PER_DEVICE * 2 * n * n + 6 * FLOAT_BYTES * inputs * n


def sweep_bytes(task_bytes: float, tasks: int, workers: int) -> float:
    """Peak memory of a sweep (bytes): tasks running at once x the largest task.

    ``workers`` 0 runs tasks one at a time in this process; otherwise each worker process
    holds one task and its own base.
    """
    running = 1 if workers == 0 else max(1, min(workers, tasks))
    processes = 1 + (0 if workers == 0 else running)
    return processes * BASE_BYTES + running * task_bytes


def layer_shapes(model: str, channels: int, side: int, classes: int = 10) -> list[tuple[int, int]]:
    """(inputs, outputs) of every weight matrix of the network study's ``model``.

    Mirrors :func:`xbarsim.nn.training.mlp` (hidden 64) and
    :func:`xbarsim.nn.training.convnet` (width 16) as built by the network study.
    """
    if model == "mlp":
        return [(channels * side * side, 64), (64, classes)]
    width = 16
    flat = 2 * width * (side // 4) ** 2
    return [(9 * channels, width), (9 * width, 2 * width), (flat, 4 * width), (4 * width, classes)]


def deployment_devices(shapes: list[tuple[int, int]], kernel: int) -> int:
    """Devices of a differential deployment on ``kernel x kernel`` crossbars."""
    return sum(
        math.ceil(n_in / kernel) * math.ceil(2 * n_out / kernel) * kernel * kernel
        for n_in, n_out in shapes
    )


def dataset_bytes(dataset: str) -> float:
    """Memory of a loaded dataset with its float copies (bytes)."""
    images = {"digits": 1797 * 16 * 16, "cifar10": 60_000 * 3 * 32 * 32, "mnist": 70_000 * 784,
              "mnist-5k": 5_000 * 784}
    # raw bytes, float32 images, the concatenated training copy and torch's view
    return images.get(dataset, 0) * 13


def network_study_bytes(
    models: list[str], dataset: str, kernels: list[int], workers: int, jobs: int
) -> float:
    """Peak memory of the network study (bytes): the dataset, plus the largest single
    deployment per process running one (``workers`` 0: one, in this process)."""
    channels, side = (3, 32) if dataset == "cifar10" else (1, 16)
    largest = max(
        deployment_devices(layer_shapes(m, channels, side), n) for m in models for n in kernels
    )
    deploy = PROGRAM_BYTES_PER_DEVICE * largest
    running = 1 if workers == 0 else max(1, min(workers, jobs))
    processes = 1 + (0 if workers == 0 else running)
    return processes * (BASE_BYTES + dataset_bytes(dataset)) + running * deploy


def calibration_bytes(size: int, pairs: int, image_size: int) -> float:
    """Peak memory of one calibration candidate (bytes): ``pairs`` VMM crossbar pairs or
    one picture, whichever is larger (they run one after the other)."""
    vmm = vmm_task_bytes(size, pairs, 1, size)
    image = PROGRAM_BYTES_PER_DEVICE * image_size * image_size
    return BASE_BYTES + max(vmm, image)


CHAPTER2_MODEL_BYTES = 400 * 1024**2  # a training model with its optimizer state and batches


def chapter2_study_bytes(dataset: str, models: tuple[str, ...], workers: int) -> float:
    """Peak memory of a chapter-2 study (bytes): per process the base, the dataset and one
    model being trained or evaluated (``workers`` 0: one process). The model term is an
    upper bound for the digits- and CIFAR-sized models of the studies (an assumption)."""
    processes = 1 + max(0, workers)
    running = 1 if workers == 0 else max(1, min(workers, len(models)))
    return processes * (BASE_BYTES + dataset_bytes(dataset)) + running * CHAPTER2_MODEL_BYTES
