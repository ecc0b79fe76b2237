"""Compatibility shim for pytorchvideo 0.1.5 with current torchvision. Import before any
`pytorchvideo.transforms` import (use `import_pytorchvideo_transforms`).

pytorchvideo 0.1.5 (the last release) imports `torchvision.transforms.functional_tensor`, a module
torchvision renamed to `torchvision.transforms._functional_tensor` in 0.17. Registering the old
name as an alias of the new module is the one workaround vidlab applies; nothing else of
pytorchvideo's transforms is patched. (pytorchvideo's torchvision-based video decoder is gone
too: vidlab never uses pytorchvideo for decoding.)
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_OLD_NAME = "torchvision.transforms.functional_tensor"
_NEW_NAME = "torchvision.transforms._functional_tensor"


def install_functional_tensor_alias() -> None:
    """Make `import torchvision.transforms.functional_tensor` resolve (idempotent)."""
    if _OLD_NAME not in sys.modules:
        sys.modules[_OLD_NAME] = importlib.import_module(_NEW_NAME)


def import_pytorchvideo_transforms() -> ModuleType:
    """`pytorchvideo.transforms`, importable on current torchvision."""
    install_functional_tensor_alias()
    return importlib.import_module("pytorchvideo.transforms")
