"""Synthetic MOTChallenge folders generated from plain settings and cached on disk.

The settings are the ``synthetic`` node of ``configs/data/synthetic_mot.yaml``: the folder-level
keys ``n_sequences``, ``seed``, ``render_frames``, ``pan_every`` and ``pan`` (see
:func:`~vidlab.data.synthetic.mot.write_mot_folder`), any :class:`~vidlab.data.synthetic.mot.
SceneConfig` field, and ``noise`` (any :class:`~vidlab.data.synthetic.mot.DetectorNoise` field).
Each set of settings is written once into ``<cache_dir>/<hash of the settings>/`` (the folder is
built under a temporary name and moved into place with a ``.complete`` marker holding the
settings) and reused by every later run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from vidlab.utils.cache import cache_key, cached_folder, is_complete

log = logging.getLogger(__name__)

#: Settings of the whole folder (the others describe the scene of every sequence).
FOLDER_KEYS = ("n_sequences", "seed", "render_frames", "pan_every", "pan")
REQUIRED_KEYS = ("n_sequences", "seed")
_DEFAULT_PAN = (2.0, 0.0)


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in values.items()}


def _check_keys(given: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(allowed)}")


def scene_from_settings(settings: Mapping[str, Any]):
    """The :class:`SceneConfig` that the scene keys (and ``noise``) of `settings` describe.

    Raises:
        ValueError: a key that is neither a folder setting nor a scene / noise field.
    """
    from vidlab.data.synthetic.mot import DetectorNoise, SceneConfig

    scene_keys = {f.name for f in fields(SceneConfig)} - {"noise"}
    _check_keys(settings, scene_keys | {"noise", *FOLDER_KEYS}, "synthetic MOT settings")
    noise_settings = dict(settings.get("noise") or {})
    _check_keys(noise_settings, {f.name for f in fields(DetectorNoise)}, "synthetic MOT noise")
    scene = {k: v for k, v in settings.items() if k in scene_keys}
    return SceneConfig(noise=DetectorNoise(**_tuples(noise_settings)), **_tuples(scene))


def synthetic_mot_folder(cache_dir: str | Path, settings: Mapping[str, Any]) -> Path:
    """The folder of synthetic sequences ``SYN-01, ...`` for `settings`, generated on first use.

    Args:
        cache_dir: where generated folders are kept, one per settings hash.
        settings: JSON-able settings (see the module docstring); ``n_sequences`` and ``seed``
            are required.

    Returns:
        ``<cache_dir>/<key>``, a folder of MOTChallenge sequence folders.
    """
    settings = dict(settings)
    missing = [k for k in REQUIRED_KEYS if k not in settings]
    if missing:
        raise ValueError(f"synthetic MOT settings lack {missing} (have {sorted(settings)})")
    scene = scene_from_settings(settings)  # validates the keys before anything is written
    root = Path(cache_dir) / cache_key(settings)
    if is_complete(root):
        return root

    def build(tmp: Path) -> None:
        from vidlab.data.synthetic.mot import write_mot_folder

        log.info("generating synthetic MOT sequences into %s", root)
        write_mot_folder(
            tmp,
            int(settings["n_sequences"]),
            int(settings["seed"]),
            config=scene,
            render_frames=bool(settings.get("render_frames", False)),
            pan_every=int(settings.get("pan_every", 0)),
            pan=tuple(settings.get("pan", _DEFAULT_PAN)),
        )

    return cached_folder(root, build, stamp=settings)
