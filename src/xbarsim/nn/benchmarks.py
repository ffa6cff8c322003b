"""The chapter-2 benchmark networks, built locally (layer 6; thesis 2.1, Fig. 5).

* :func:`thesis_convnet`: Conv 5x5 (65 maps) -> max-pool 2 -> Conv 5x5 (120 maps) ->
  max-pool 2 -> FC 390 -> FC classes, batch norm after every non-pooling layer but the
  classifier, ReLU. Padding and stride are not printed: default stride 1, no padding
  (CIFAR-10: 32 -> 28 -> 14 -> 10 -> 5, FC1 input 3000), an **assumption**; "65" as printed.
* :func:`resnet18`: torchvision's ResNet-18 layout (7x7/2 conv, 3x3/2 max-pool, four stages
  of two basic blocks, global average pool, FC), written here (no torchvision, no downloaded
  weights). ``width`` scales every stage (torchvision: 64) so it fits small data.
"""

from __future__ import annotations

from torch import Tensor, nn

from xbarsim.errors import XbarsimInputError


def _out(size: int, kernel: int, padding: int) -> int:
    return size + 2 * padding - kernel + 1


def thesis_convnet(
    channels: int = 3,
    size: int = 32,
    classes: int = 10,
    maps: tuple[int, int] = (65, 120),
    hidden: int = 390,
    padding: int = 0,
) -> nn.Sequential:
    """The thesis's CIFAR-10 ConvNet (module docstring) for ``size`` x ``size`` images.

    Parameters
    ----------
    channels, size, classes : int
        Input channels, image side (pixels), outputs.
    maps : (int, int)
        Feature maps of the two convolutions (thesis: 65, 120).
    hidden : int
        Neurons of FC1 (thesis: 390).
    padding : int
        Zero padding of both 5x5 convolutions (0 default, 2 = "same").
    """
    side = _out(size, 5, padding) // 2
    side = _out(side, 5, padding) // 2
    if side < 1:
        raise XbarsimInputError(f"size: {size} px is too small for the thesis ConvNet")
    return nn.Sequential(
        nn.Conv2d(channels, maps[0], 5, padding=padding),
        nn.BatchNorm2d(maps[0]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(maps[0], maps[1], 5, padding=padding),
        nn.BatchNorm2d(maps[1]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(maps[1] * side * side, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(out + short)


class ResNet18(nn.Module):
    """ResNet-18 in torchvision's layout with stage widths ``width * (1, 2, 4, 8)``."""

    def __init__(self, channels: int = 3, classes: int = 1000, width: int = 64) -> None:
        super().__init__()
        if width < 1:
            raise XbarsimInputError(f"width: must be >= 1, got {width}")
        self.conv1 = nn.Conv2d(channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages = []
        inputs = width
        for i, stride in enumerate((1, 2, 2, 2)):
            outputs = width * 2**i
            stages.append(
                nn.Sequential(BasicBlock(inputs, outputs, stride), BasicBlock(outputs, outputs, 1))
            )
            inputs = outputs
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inputs, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(channels: int = 3, classes: int = 1000, width: int = 64) -> ResNet18:
    """ResNet-18 (torchvision layout, He initialization); ``width`` 64 is torchvision's."""
    return ResNet18(channels, classes, width)
