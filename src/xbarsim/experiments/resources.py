"""Peak-memory and run-time estimates of the experiments, checked before any work.

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


# --- Time estimates ---------------------------------------------------------------------
# Order-of-magnitude run times (s), the same products as the memory estimates: work items x
# cost per item, divided by the processes working at once. The constants are this
# repository's benchmark figures on one shared core, rounded up so that an estimate reads
# high rather than low (within a factor of about 3); they are for planning, not prediction.

#: Write-verify time per pulse on a 64 x 64 crossbar, one thread of the compiled engine
#: (s; measured 4.0 ns at sigma 25 %, 3.7 ms per crossbar).
SECONDS_PER_PULSE = 5e-9
#: Pulses per device of the thesis write-verify (1 % tolerance) at zero variation and per
#: unit of sigma (measured: about 230 per device at sigma 25 %, about 105 at 5 %).
PULSES_PER_DEVICE = 75.0
PULSES_PER_DEVICE_PER_SIGMA = 610.0
#: How much slower than the compiled engine the other programming engines are (measured
#: 2,483x on 16 x 16 and 444x on 64 x 64 crossbars at sigma 25 %).
ENGINE_SLOWDOWN = {"reference": 2500.0, "cpu-direct": 450.0}
#: Training time per multiply-accumulate of one sample's forward pass, forward plus
#: backward (s; three forward passes).
TRAIN_SECONDS_PER_MAC = 3e-10
#: Training overhead per sample and epoch of the small models, where batches of a few
#: thousand multiply-accumulates cost their framework calls (s).
TRAIN_SECONDS_PER_SAMPLE = 2e-5
#: Inference time per multiply-accumulate of a network forward pass (s; measured 0.95e-10
#: on the ResNet-18 at batch 16, 32 x 32 images, both cores).
EVAL_SECONDS_PER_MAC = 1e-10
#: One simulated VMM's device currents per device and input vector (s).
VMM_SECONDS_PER_MAC = 2e-9
#: An analog forward pass with operating conditions against an ideal software one (ratio;
#: measured 1.6 with every effect on).
ANALOG_FORWARD_FACTOR = 3.0
#: One exact IR-drop solve of a 64 x 64 array (s); it grows about as N^3.
SECONDS_PER_SOLVE_64 = 0.03
#: Threshold measurement per device of a 64 x 64 array: voltage steps up and down, each a
#: pulse on the device's lines and a read (s; measured 300-340 us at 32-64 squared, 580 us at
#: 128 squared).
THRESHOLD_SECONDS_PER_DEVICE = 350e-6
#: Per deployed crossbar set or hardware instance: sampling, mapping and Python overhead (s).
DEPLOY_OVERHEAD_SECONDS = 0.2


def tuning_seconds(devices: float, size: int = 64, sigma: float = 0.25,
                   engine: str = "auto") -> float:
    """Order-of-magnitude time of write-verify tuning (s).

    ``devices`` devices on ``size x size`` crossbars at threshold variation ``sigma``:
    devices x expected pulses per device x time per pulse. A pulse costs more on longer
    lines (its half-selected row and column), about as ``(size / 64) ** 1.2`` (measured:
    128 x 128 takes 2.3 times as long per device as 64 x 64). The pulse count is the thesis
    write-verify's at 1 % tolerance; looser tolerances take fewer.
    """
    pulses = PULSES_PER_DEVICE + PULSES_PER_DEVICE_PER_SIGMA * max(0.0, sigma)
    per_pulse = SECONDS_PER_PULSE * max(0.5, size / 64) ** 1.2
    return devices * pulses * per_pulse * ENGINE_SLOWDOWN.get(engine, 1.0)


def training_seconds(samples: float, epochs: float, macs: float) -> float:
    """Order-of-magnitude time of training a network (s): samples x epochs x
    multiply-accumulates per sample (the parameter count for fully connected layers)."""
    return samples * epochs * (macs * TRAIN_SECONDS_PER_MAC + TRAIN_SECONDS_PER_SAMPLE)


def vmm_seconds(inputs: float, rows: int, cols: int) -> float:
    """Order-of-magnitude time of ``inputs`` simulated VMMs on a ``rows x cols`` array (s)."""
    return inputs * rows * cols * VMM_SECONDS_PER_MAC


def irdrop_solve_seconds(solves: float, size: int) -> float:
    """Order-of-magnitude time of ``solves`` exact IR-drop solves of ``size x size`` (s)."""
    return solves * SECONDS_PER_SOLVE_64 * (size / 64) ** 3


def thresholds_seconds(size: int) -> float:
    """Order-of-magnitude time of ``thresholds`` on one ``size x size`` array (s): per
    device a cost growing with the line length above 64."""
    return THRESHOLD_SECONDS_PER_DEVICE * max(1.0, size / 64) * size * size


def parallel_seconds(total: float, workers: int, jobs: int) -> float:
    """``total`` seconds of work over ``jobs`` independent jobs on ``workers`` processes
    (0: serial in this process) (s)."""
    return total / max(1, min(workers, jobs))


def image_tuning_seconds(size: int, sigma: float, engine: str = "auto") -> float:
    """Order-of-magnitude time of ``program-image`` on one ``size x size`` array (s)."""
    return tuning_seconds(size * size, size, sigma, engine)


def vmm_task_seconds(size: int, pairs: int, weight_sets: int, inputs: int, sigma: float,
                     engine: str = "auto") -> float:
    """Order-of-magnitude time of one VMM-study task (s): ``2 pairs weight_sets`` crossbars
    tuned, each pair then reading ``inputs`` vectors."""
    crossbars = 2 * pairs * weight_sets
    return (tuning_seconds(crossbars * size * size, size, sigma, engine)
            + crossbars * vmm_seconds(inputs, size, size))


def mlp_macs(shapes: list[tuple[int, int]]) -> int:
    """Multiply-accumulates per sample of fully connected layers ``(inputs, outputs)``."""
    return sum(n_in * n_out for n_in, n_out in shapes)


def network_study_macs(model: str, channels: int, side: int) -> int:
    """Multiply-accumulates per sample of the network study's ``model``: each weight matrix
    of :func:`layer_shapes` once per output position (convolutions: ``side^2`` and
    ``(side / 2)^2`` positions)."""
    shapes = layer_shapes(model, channels, side)
    if model == "mlp":
        return mlp_macs(shapes)
    positions = [side * side, (side // 2) ** 2, 1, 1]
    return sum(n_in * n_out * p for (n_in, n_out), p in zip(shapes, positions, strict=True))


#: Training and test images of the datasets (a folder dataset: assumed).
DATASET_SPLITS = {"digits": (1437, 360), "cifar10": (50_000, 10_000), "mnist": (60_000, 10_000),
                  "mnist-5k": (4_000, 1_000), "folder": (10_000, 1_000)}


def network_study_seconds(
    models: list[str], dataset: str, kernels: list[int], sigmas: list[float], zetas: int,
    algorithms: int, instances: int, epochs: int, n_test: int | None, engine: str,
    workers: int,
) -> float:
    """Order-of-magnitude time of the network study (s): one training per model and zeta,
    then per point a deployment tuned and an analog test pass, over ``workers``."""
    channels, side = (3, 32) if dataset == "cifar10" else (1, 16)
    n_train, test = DATASET_SPLITS.get(dataset, DATASET_SPLITS["folder"])
    test = test if n_test is None else min(test, n_test)
    total, jobs = 0.0, 0
    for m in models:
        macs = network_study_macs(m, channels, side)
        total += zetas * training_seconds(n_train, epochs, macs)
        for n in kernels:
            devices = deployment_devices(layer_shapes(m, channels, side), n)
            for sigma in sigmas:
                points = zetas * algorithms * instances
                jobs += points
                total += points * (DEPLOY_OVERHEAD_SECONDS
                                   + tuning_seconds(devices, n, sigma, engine)
                                   + test * macs * EVAL_SECONDS_PER_MAC * ANALOG_FORWARD_FACTOR)
    return parallel_seconds(total, workers, jobs)


def perceptron_seconds(dataset: str, epochs: int, trials: int, errors: int, instances: int,
                       sigma: float, engine: str) -> float:
    """Order-of-magnitude time of the 64 x 10 perceptron study (s): training, the import
    error draws (a test pass each), and ``instances`` differential 64 x 20 deployments
    tuned and tested."""
    n_train, n_test = DATASET_SPLITS.get(dataset, DATASET_SPLITS["mnist"])
    macs = mlp_macs([(64, 10)])
    draws = trials * errors * n_test * macs * EVAL_SECONDS_PER_MAC
    deploy = instances * (DEPLOY_OVERHEAD_SECONDS + tuning_seconds(64 * 20, 64, sigma, engine)
                          + n_test * macs * EVAL_SECONDS_PER_MAC * ANALOG_FORWARD_FACTOR)
    return training_seconds(n_train, epochs, macs) + draws + deploy


#: A calibration trial against the tuning model of its crossbars (ratio; measured: a grid
#: of candidates took 230 s where :func:`tuning_seconds` alone gives 25 s), rounded up.
CALIBRATION_FACTOR = 15.0


#: A calibration trial whose population has a leak floor or cycle-to-cycle variation (the
#: engines walk each selected device's ramp) against one without (ratio; measured: 21 s
#: against 3.5 s at 16 pairs of 64 x 64 and two 64 x 64 pictures), rounded up.
WALKED_RAMP_FACTOR = 6.0


def calibration_seconds(candidates: int, size: int, pairs: int, image_seeds: int,
                        image_size: int, engine: str = "auto", walked: bool = False) -> float:
    """Order-of-magnitude time of ``candidates`` calibration trials (s): per trial ``pairs``
    VMM crossbar pairs and ``image_seeds`` pictures tuned (at sigma 25 %), times
    :data:`CALIBRATION_FACTOR` for what the tuning model does not count (the trials' own
    pulse laws and the per-trial measurements), and :data:`WALKED_RAMP_FACTOR` when
    ``walked`` (a leak floor or cycle-to-cycle variation is searched)."""
    per = CALIBRATION_FACTOR * (tuning_seconds(2 * pairs * size * size, size, 0.25, engine)
           + tuning_seconds(image_seeds * image_size * image_size, image_size, 0.25, engine))
    return candidates * per * (WALKED_RAMP_FACTOR if walked else 1.0)


def irdrop_study_seconds(sizes: list[int], r_wires: int, instances: int, inputs: int,
                         network: bool, through_lines: bool) -> float:
    """Order-of-magnitude time of ``irdrop-study`` (s): per size, wire resistance and
    instance a pair tuned and its effective matrix solved (four more solves per crossbar
    when programming through the lines; measured: the default study, 43 s, estimated at
    about 80 s), plus the perceptron points."""
    total = 0.0
    for n in sizes:
        solves = 2 * (1 + (4 if through_lines else 0))
        point = (tuning_seconds(2 * n * n, n) + irdrop_solve_seconds(solves, n)
                 + 2 * vmm_seconds(inputs, n, n))
        total += r_wires * instances * point
        if network:
            total += r_wires * (tuning_seconds(64 * 20, n) + irdrop_solve_seconds(solves, n))
    return total


def chapter2_macs(model: str, dataset: str, image_size: int = 64, width: int | None = None
                  ) -> float:
    """Multiply-accumulates per sample of a chapter-2 model (order of magnitude): the
    ResNet-18 at 0.56 G for width 64 on 32 x 32, scaled with width squared and pixels; the
    ConvNet 25 M on 32 x 32 (0.5 M sized down on the digits)."""
    side = {"digits": 16, "cifar10": 32}.get(dataset, image_size)
    pixels = (side / 32) ** 2
    if model == "resnet18":
        w = width or (8 if dataset == "digits" else 64)
        return 0.56e9 * (w / 64) ** 2 * pixels
    return (2e6 if dataset == "digits" else 25e6) * pixels


def chapter2_study_seconds(dataset: str, models: tuple[str, ...], epochs: int,
                           trainings_per_model: int, points_per_model: int,
                           n_train: int | None, n_test: int | None, image_size: int,
                           width: int | None, workers: int) -> float:
    """Order-of-magnitude time of a chapter-2 study (s): per model its trainings (the
    baseline and any retraining) and an analog test pass per point, over ``workers``."""
    train, test = DATASET_SPLITS.get(dataset, DATASET_SPLITS["folder"])
    train = train if n_train is None else min(train, n_train)
    test = test if n_test is None else min(test, n_test)
    total = 0.0
    for m in models:
        macs = chapter2_macs(m, dataset, image_size, width)
        total += trainings_per_model * training_seconds(train, epochs, macs)
        total += points_per_model * test * macs * EVAL_SECONDS_PER_MAC * ANALOG_FORWARD_FACTOR
    return parallel_seconds(total, workers, len(models) * max(1, points_per_model))

