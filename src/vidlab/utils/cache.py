"""The one on-disk cache helper: content-hash keys, and files or folders built once, atomically.

Generated data (synthetic clips, synthetic MOT sequences, Re-ID crop sets) is cached under a name
derived from a hash of every setting that changes it (:func:`cache_key`). A cached file or folder
is built into a temporary sibling and moved into place with one ``os.replace``, so a crash or an
interrupted run never leaves a half-written entry that a later run would mistake for a finished
one (:func:`cached_file`, :func:`cached_folder`). A folder counts as finished when it holds its
marker file (``.complete`` by default, or a file its builder writes last, such as a manifest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

#: Marker file of a finished cached folder (unless the caller names another one).
COMPLETE_MARKER = ".complete"
#: Hex characters of a cache key unless the caller asks for another length.
DEFAULT_KEY_LENGTH = 12


def cache_key(params: Mapping[str, Any], length: int = DEFAULT_KEY_LENGTH) -> str:
    """A short, stable hash of JSON-able settings (cache file and folder names).

    The key is the first `length` hex characters of the SHA-1 of ``json.dumps(params,
    sort_keys=True)`` (values JSON cannot encode are written with ``str``), so it does not depend
    on key order and changes whenever a setting does.
    """
    if not 1 <= length <= 40:
        raise ValueError(f"length={length}, expected 1..40 hex characters of a SHA-1")
    payload = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha1(payload.encode()).hexdigest()[:length]


def _temp_sibling(path: Path) -> Path:
    """A unique hidden name next to `path` that keeps its suffix (``np.save`` appends ``.npy``)."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def cached_file(
    path: str | Path,
    build: Callable[[Path], None],
    *,
    valid: Callable[[Path], bool] | None = None,
) -> Path:
    """Return `path`, first building it with ``build(tmp)`` when it is absent (or not `valid`).

    Args:
        path: the cache file.
        build: writes the file at the path it is given (a temporary sibling of `path`, with the
            same suffix), which then replaces `path` atomically.
        valid: optional check of an existing file; a file that fails it is rebuilt (logged).

    Returns:
        `path`.
    """
    path = Path(path)
    if path.is_file():
        if valid is None or valid(path):
            return path
        log.warning("rebuilding cache %s: it does not match the expected contents", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path)
    try:
        build(tmp)
        if not tmp.is_file():
            raise FileNotFoundError(f"cache builder for {path} wrote nothing to {tmp}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def is_complete(folder: str | Path, marker: str = COMPLETE_MARKER) -> bool:
    """Whether a cached folder was finished (it holds its marker file)."""
    return (Path(folder) / marker).is_file()


def cached_folder(
    folder: str | Path,
    build: Callable[[Path], None],
    *,
    marker: str = COMPLETE_MARKER,
    stamp: Mapping[str, Any] | None = None,
) -> Path:
    """Return `folder`, first building it with ``build(tmp)`` unless it is complete.

    Args:
        folder: the cache folder, complete when ``folder / marker`` is a file.
        build: fills the (new, empty) folder it is given, a temporary sibling of `folder` that is
            then moved into place with one ``os.replace``.
        marker: path, relative to the folder, of the file that marks it complete. When `build`
            does not write it, it is written afterwards with `stamp` (JSON) as its contents.
        stamp: what the marker records (e.g. the settings the key was computed from).

    Returns:
        `folder`. An incomplete folder left by an interrupted run is replaced; if another
        process finishes the same folder first, its result is kept.
    """
    folder = Path(folder)
    if is_complete(folder, marker):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(folder)
    tmp.mkdir()
    try:
        build(tmp)
        if not (tmp / marker).is_file():
            write_json(tmp / marker, dict(stamp or {}))
        if folder.exists() and not is_complete(folder, marker):
            log.warning("replacing the incomplete cache folder %s", folder)
            shutil.rmtree(folder)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not is_complete(folder, marker):  # not a concurrent build of the same folder
                raise
            log.info("cache folder %s was finished by another process; keeping it", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
