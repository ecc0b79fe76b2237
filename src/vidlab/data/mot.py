"""The tracking data of ``data=mot`` and ``data=synthetic_mot``: a folder of MOTChallenge sequences.

A :class:`MOTSequences` names the folder (``root``) or, with ``root: null``, the settings of
synthetic sequences generated into ``cache_dir`` on first use
(:func:`vidlab.data.synthetic.mot_cache.synthetic_mot_folder`), plus the evaluation benchmark and
which sequences to report as ``test/`` and, optionally, ``val/``. Nothing is read or generated
until :meth:`MOTSequences.resolve_root` is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    """Mappings and sequences (e.g. OmegaConf nodes) as dicts and lists of plain values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def _names(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


class MOTSequences:
    """A folder of MOTChallenge sequence folders, real or generated.

    Args:
        root: folder of sequence folders (each with ``seqinfo.ini``); None: generate the
            synthetic sequences described by `synthetic` into `cache_dir`.
        benchmark: MOT15 | MOT16 | MOT17 | MOT20 (the evaluation preprocessing).
        sequences: names of the sequences reported as ``test/`` (None: every sequence).
        val_sequences: optional names of a second set reported as ``val/`` (tuning objective).
        synthetic: generator settings (see :mod:`vidlab.data.synthetic.mot_cache`).
        cache_dir: where synthetic folders are kept (one per settings hash).
    """

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        benchmark: str = "MOT17",
        sequences: Sequence[str] | None = None,
        val_sequences: Sequence[str] | None = None,
        synthetic: Mapping[str, Any] | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        if root is None and (synthetic is None or cache_dir is None):
            raise ValueError(
                "data.root is null: give a folder of MOTChallenge sequences, or `synthetic` "
                "settings and a `cache_dir` to generate them into"
            )
        self.root = None if root is None else Path(root)
        self.benchmark = str(benchmark)
        self.sequences = _names(sequences)
        self.val_sequences = _names(val_sequences)
        self.synthetic = None if synthetic is None else _plain(synthetic)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    def resolve_root(self) -> Path:
        """The folder of sequence folders: `root`, or the synthetic one (generated if needed).

        Raises:
            FileNotFoundError: `root` is not a folder.
        """
        if self.root is not None:
            if not self.root.is_dir():
                raise FileNotFoundError(
                    f"data.root={self.root} is not a folder of MOTChallenge sequences"
                )
            return self.root
        from vidlab.data.synthetic.mot_cache import synthetic_mot_folder

        return synthetic_mot_folder(self.cache_dir, self.synthetic)

    def splits(self) -> list[tuple[str, list[str] | None]]:
        """``("test", sequences)`` and, when `val_sequences` is set, ``("val", val_sequences)``."""
        out = [("test", self.sequences)]
        if self.val_sequences:
            out.append(("val", self.val_sequences))
        return out

    def describe(self) -> dict[str, Any]:
        """Provenance recorded with results: root (or generator settings), benchmark, names."""
        return {
            "root": None if self.root is None else str(self.root),
            "benchmark": self.benchmark,
            "sequences": self.sequences,
            "val_sequences": self.val_sequences,
            "synthetic": self.synthetic if self.root is None else None,
        }
