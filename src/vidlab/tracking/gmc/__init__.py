"""Camera-motion compensation strategies by name: ``none``, ``sparse_flow``, ``ecc``, ``file``."""

from __future__ import annotations

from typing import Any

from vidlab.tracking.gmc.base import IDENTITY, CameraMotion, NoMotion, warp_states
from vidlab.tracking.gmc.file import FileMotion, read_motion_file, write_motion_file
from vidlab.tracking.gmc.opencv import EccMotion, SparseFlowMotion

CAMERA_MOTION = {
    "none": NoMotion,
    "sparse_flow": SparseFlowMotion,
    "ecc": EccMotion,
    "file": FileMotion,
}


def create_camera_motion(method: str, **params: Any) -> CameraMotion:
    """Build a strategy by name (``file`` needs ``path=``)."""
    try:
        cls = CAMERA_MOTION[method]
    except KeyError:
        raise ValueError(
            f"unknown camera-motion method {method!r}; valid: {sorted(CAMERA_MOTION)}"
        ) from None
    return cls(**params)


__all__ = [
    "CAMERA_MOTION",
    "IDENTITY",
    "CameraMotion",
    "EccMotion",
    "FileMotion",
    "NoMotion",
    "SparseFlowMotion",
    "create_camera_motion",
    "read_motion_file",
    "warp_states",
    "write_motion_file",
]
