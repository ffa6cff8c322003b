"""Layer 6: PyTorch networks on simulated crossbars.

``convert`` swaps ``Linear`` / ``Conv2d`` for analog layers (with optional hardware-aware
training), ``deploy`` programs every kernel of a model on a simulated chip in one batched
call and returns a model computing on the programmed conductances.
"""

from xbarsim.mapping.config import ChipConfig
from xbarsim.nn.conditions import at
from xbarsim.nn.convert import analog_layers, check_mappable, convert, set_zeta
from xbarsim.nn.data import Dataset, load_cifar10, load_digits, load_mnist
from xbarsim.nn.deploy import Deployment, LayerKernels, deploy, program_model
from xbarsim.nn.layers import AnalogConv2d, AnalogLayerMixin, AnalogLinear, check_zeta
from xbarsim.nn.training import (
    accuracy,
    convnet,
    layer_arrays,
    mlp,
    perceptron,
    predict,
    seed_hat,
    seeded,
    torch_threads,
    train,
)

__all__ = [
    "AnalogConv2d",
    "AnalogLayerMixin",
    "AnalogLinear",
    "ChipConfig",
    "Dataset",
    "Deployment",
    "LayerKernels",
    "accuracy",
    "analog_layers",
    "at",
    "check_mappable",
    "check_zeta",
    "convert",
    "convnet",
    "deploy",
    "layer_arrays",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "mlp",
    "perceptron",
    "predict",
    "program_model",
    "seed_hat",
    "seeded",
    "set_zeta",
    "torch_threads",
    "train",
]
