"""An ImageNet-style image folder as a :class:`~xbarsim.nn.data.Dataset` (layer 6).

Layout: ``DIR/train/<class>/<image>`` and ``DIR/val/<class>/<image>`` (any format Pillow
reads); classes are the sorted sub-directory names of ``train``. Images are converted to
RGB, resized to ``size`` x ``size`` (bilinear; a center crop is the user's to do
beforehand) and scaled to [0, 1]. Everything is held in memory, so this suits subsets
(e.g. a few classes of ImageNet), not the full 1.3 M images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xbarsim.errors import XbarsimInputError
from xbarsim.nn.data import Dataset
from xbarsim.validation import check_positive_int, open_image

FOLDER_HELP = "expected DIR/train/<class>/<images> and DIR/val/<class>/<images>"


def load_image_folder(
    directory: str | Path, size: int = 64, limit_per_class: int | None = None
) -> Dataset:
    """Read an image folder (module docstring).

    Parameters
    ----------
    directory : str or Path
    size : int
        Side of the resized images (pixels).
    limit_per_class : int, optional
        Read at most this many images per class and split.

    Raises
    ------
    XbarsimInputError
        Missing directories, no classes, or an unreadable image.
    """
    from PIL import Image, UnidentifiedImageError

    size = check_positive_int("size", size)
    root = Path(directory)
    train_dir, val_dir = root / "train", root / "val"
    if not train_dir.is_dir() or not val_dir.is_dir():
        raise XbarsimInputError(f"imagenet-dir: {root} has no train/ and val/; {FOLDER_HELP}")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise XbarsimInputError(f"imagenet-dir: no class folders in {train_dir}; {FOLDER_HELP}")

    def read(split: Path) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        images, labels = [], []
        for label, name in enumerate(classes):
            files = sorted(f for f in (split / name).glob("*") if f.is_file())
            for file in files[:limit_per_class]:
                try:
                    with open_image(file, "imagenet-dir") as img:  # bounded, bomb-checked
                        rgb = img.convert("RGB").resize((size, size), Image.BILINEAR)
                except (OSError, UnidentifiedImageError):
                    raise XbarsimInputError(f"imagenet-dir: cannot read image {file}") from None
                images.append(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0)
                labels.append(label)
        if not images:
            raise XbarsimInputError(f"imagenet-dir: no images in {split}; {FOLDER_HELP}")
        return np.stack(images), np.asarray(labels, dtype=np.int64)

    x_train, y_train = read(train_dir)
    x_test, y_test = read(val_dir)
    return Dataset("image-folder", x_train, y_train, x_test, y_test, classes=len(classes))
