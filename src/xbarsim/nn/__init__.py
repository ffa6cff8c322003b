"""Layer 6: PyTorch networks on simulated crossbars.

``convert`` swaps ``Linear`` / ``Conv2d`` for analog layers (with optional hardware-aware
training), ``deploy`` programs every kernel of a model on a simulated chip in one batched
call and returns a model computing on the programmed conductances; ``deploy(model, spec)``
with a :class:`xbarsim.chip.ChipSpec` composes every effect of the chip.
"""

from xbarsim.mapping.config import ChipConfig
from xbarsim.nn.conditions import at
from xbarsim.nn.convert import analog_layers, check_mappable, convert, set_zeta
from xbarsim.nn.data import Dataset, load_cifar10, load_digits, load_mnist
from xbarsim.nn.defects import DefectMitigation, defective_copy, program_model_mitigated
from xbarsim.nn.deploy import deploy, deploy_spec
from xbarsim.nn.eflash import eflash_at, program_eflash
from xbarsim.nn.layers import AnalogConv2d, AnalogLayerMixin, AnalogLinear, check_zeta
from xbarsim.nn.nonlinear import balance_v_tune, nonlinear_copy
from xbarsim.nn.program import program_model
from xbarsim.nn.record import Deployment, LayerKernels
from xbarsim.nn.reference_bn import ReferenceBatchNorm
from xbarsim.nn.state_deploy import program_model_designed
from xbarsim.nn.temperature_training import train_temperature_sweep
from xbarsim.nn.thermal import ThermalWeights, accuracy_by_temperature
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
    "DefectMitigation",
    "Deployment",
    "LayerKernels",
    "ReferenceBatchNorm",
    "ThermalWeights",
    "accuracy",
    "accuracy_by_temperature",
    "analog_layers",
    "at",
    "balance_v_tune",
    "check_mappable",
    "check_zeta",
    "convert",
    "convnet",
    "defective_copy",
    "deploy",
    "deploy_spec",
    "eflash_at",
    "layer_arrays",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "mlp",
    "nonlinear_copy",
    "perceptron",
    "predict",
    "program_eflash",
    "program_model",
    "program_model_designed",
    "program_model_mitigated",
    "seed_hat",
    "seeded",
    "set_zeta",
    "torch_threads",
    "train",
    "train_temperature_sweep",
]
