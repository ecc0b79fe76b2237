"""The downstream gate of an exported Re-ID encoder: trackers must not notice the export.

DeepSORT and BoT-SORT (with Re-ID) track sequences with frames twice, once with the exported
encoder (an export bundle, loaded through `vidlab.export.runtime.load_bundle`) and once with the
eager PyTorch network: every output row (frame, id, box, score) and the HOTA / MOTA / IDF1 / IDSW
figures must be identical. The export stage runs it as a verification step of the embedding family
(`TrackingParityGate`, injected by ``export.tracking_parity=true``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

log = logging.getLogger(__name__)

TRACKING_FIELDS = ("HOTA", "MOTA", "IDF1", "IDSW")


@dataclass(frozen=True)
class TrackingParity:
    """Tracking with the exported encoder against tracking with the PyTorch encoder.

    Attributes:
        tracker: tracker name.
        identical_tracks: every output row (frame, id, box, score) agrees exactly.
        torch_metrics: HOTA / MOTA / IDF1 / IDSW with the PyTorch encoder.
        export_metrics: the same with the exported encoder.
        num_rows: result rows of the PyTorch run.
    """

    tracker: str
    identical_tracks: bool
    torch_metrics: dict[str, float]
    export_metrics: dict[str, float]
    num_rows: int

    @property
    def ok(self) -> bool:
        return self.identical_tracks and self.torch_metrics == self.export_metrics

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker,
            "identical_tracks": self.identical_tracks,
            "torch": self.torch_metrics,
            "export": self.export_metrics,
            "num_rows": self.num_rows,
            "ok": self.ok,
        }


def tracking_parity(
    sequence_dirs: Sequence[Path],
    make_tracker: Callable[[Any], Any],
    torch_encoder: Any,
    export_encoder: Any,
    name: str,
) -> TrackingParity:
    """Run ``make_tracker(encoder)`` over the sequences with each encoder and compare.

    Args:
        sequence_dirs: MOTChallenge sequence folders with ``img1/`` frames and ``gt/gt.txt``.
        make_tracker: builds a fresh tracker around an encoder.
        torch_encoder: the PyTorch encoder (reference).
        export_encoder: the encoder running the exported artifact.
        name: tracker name for the report.
    """
    from vidlab.evaluation.mot import evaluate_folder
    from vidlab.evaluation.mot.io import write_mot_txt
    from vidlab.tracking.runner import load_sequence, track_sequence

    tables, metrics = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, encoder in (("torch", torch_encoder), ("export", export_encoder)):
            out = Path(tmp) / label
            out.mkdir(parents=True)
            rows = []
            for folder in sequence_dirs:
                result = track_sequence(make_tracker(encoder), load_sequence(folder))
                table = result.results
                rows.append(np.column_stack([table.frame, table.track_id, table.tlwh, table.score]))
                write_mot_txt(out / f"{Path(folder).name}.txt", table)
            tables.append(np.concatenate(rows))
            scores = evaluate_folder(
                Path(sequence_dirs[0]).parent, out, sequences=[Path(d).name for d in sequence_dirs]
            )
            metrics.append({k: float(np.mean(scores["COMBINED"][k])) for k in TRACKING_FIELDS})
    identical = tables[0].shape == tables[1].shape and bool(np.array_equal(tables[0], tables[1]))
    return TrackingParity(name, identical, metrics[0], metrics[1], len(tables[0]))


@dataclass(frozen=True)
class TrackingParityGate:
    """The export stage's gate (`vidlab.export.stage.Gate`) for embedding bundles.

    Generates one synthetic sequence with frames into a temporary folder and compares DeepSORT
    and BoT-SORT (with Re-ID) run with the bundle's encoder against the eager network's.

    Attributes:
        num_frames / num_people / seed: the synthetic sequence.
        formats: the bundle formats it checks.
    """

    num_frames: int = 60
    num_people: int = 6
    seed: int = 0
    formats: tuple[str, ...] = ("onnx",)
    name: str = "tracking_parity"

    def __call__(self, eager: nn.Module, bundle_dir: Path) -> list[TrackingParity]:
        from vidlab.data.synthetic.mot import SceneConfig, write_mot_folder
        from vidlab.tracking.encoders import BundleEncoder, TorchEncoder
        from vidlab.tracking.trackers.botsort import BotSort
        from vidlab.tracking.trackers.deepsort import DeepSort

        export_encoder = BundleEncoder(bundle_dir)
        torch_encoder = TorchEncoder(
            eager,
            input_size=export_encoder.input_size,
            mean=export_encoder.mean,
            std=export_encoder.std,
        )
        builders = {
            "deepsort": lambda enc: DeepSort(encoder=enc),
            "botsort": lambda enc: BotSort(with_reid=True, cmc="none", encoder=enc),
        }
        scene = SceneConfig(num_frames=self.num_frames, initial_people=self.num_people)
        with tempfile.TemporaryDirectory() as tmp:
            folders = write_mot_folder(Path(tmp), 1, self.seed, render_frames=True, config=scene)
            gates = [
                tracking_parity(folders, make, torch_encoder, export_encoder, name)
                for name, make in builders.items()
            ]
        for gate in gates:
            log.info("tracking parity %s: %s", gate.tracker, gate.as_dict())
        return gates
