"""vidlab checkpoints: the meta they carry, weights-only loading, and networks rebuilt from them.

A vidlab checkpoint is a Lightning checkpoint whose ``checkpoint["vidlab"]`` entry (`META_KEY`)
holds everything needed to use the network without the run that trained it: the resolved run
config (its ``model.net`` node builds the network), the input spec, class names, and the model
family. Every package that needs a trained network (export, tracking encoders, compression,
benchmarks, the tasks) loads it through this module, so there is one loader and one set of errors.

Families (`FAMILIES`), written as ``meta["family"]`` by the LightningModules:

- ``classifier``: video classification logits (`vidlab.tasks.video_classification`); a channel-
  pruned one carries its layer shapes (`vidlab.models.structure`).
- ``embedding``: a person Re-ID embedder (`vidlab.tasks.reid`; older checkpoints say
  ``"task": "reid"`` instead).
- ``detector``: reserved for the person detector.

Checkpoints are always read with ``torch.load(weights_only=True)``: no pickled code is executed.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidlab.errors import UserError

log = logging.getLogger(__name__)

#: Key of the vidlab meta in a checkpoint dict.
META_KEY = "vidlab"
CLASSIFIER, EMBEDDING, DETECTOR = "classifier", "embedding", "detector"
FAMILIES = (CLASSIFIER, EMBEDDING, DETECTOR)
#: The ``task`` that older Re-ID checkpoints wrote instead of a family.
REID_TASK = "reid"
#: How to use each family from the command line (for wrong-family errors).
FAMILY_HINTS = {
    CLASSIFIER: "python evaluate.py ckpt_path=... (task=classification)",
    EMBEDDING: "python evaluate.py task=reid ckpt_path=...",
    DETECTOR: "the detection tasks",
}
#: Prefix of the network's parameters in a LightningModule's state dict (``module.net``).
NET_PREFIX = "net."


class CheckpointError(UserError):
    """A file that is not a usable vidlab checkpoint (the message names it and says why)."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a vidlab checkpoint weights-only.

    Raises:
        FileNotFoundError: no file at `path`.
        CheckpointError: empty, truncated or foreign file, or one without vidlab meta.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: not a vidlab checkpoint: 0 bytes")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
        if found:  # a real checkpoint that pickles classes: refused, never executed
            raise CheckpointError(
                f"{path}: not a vidlab checkpoint: it holds objects other than tensors and plain "
                f"containers, and vidlab loads checkpoints weights-only ({found[0]})"
            ) from err
        raise CheckpointError(
            f"{path}: not a vidlab checkpoint: unreadable as a torch checkpoint ({size} bytes; "
            "truncated, corrupt or another kind of file)"
        ) from err
    except Exception as err:  # torch's readers raise EOFError, KeyError, RuntimeError, ... on junk
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: not a vidlab checkpoint: unreadable as a torch checkpoint ({size} bytes; "
            f"truncated or another kind of file): {first}"
        ) from err
    if not isinstance(ckpt, dict) or META_KEY not in ckpt or "state_dict" not in ckpt:
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path}: not a vidlab training checkpoint: expected keys 'state_dict' and "
            f"{META_KEY!r}, found {found}"
        )
    return ckpt


def family_of(meta: dict[str, Any]) -> str:
    """The model family a checkpoint meta describes (`FAMILIES`)."""
    family = meta.get("family")
    if family is None:
        family = EMBEDDING if meta.get("task") == REID_TASK else CLASSIFIER
    if family not in FAMILIES:
        raise CheckpointError(
            f"unknown model family {family!r} in checkpoint meta; expected one of {FAMILIES}"
        )
    return family


def check_family(meta: dict[str, Any], expected: str, path: str | Path) -> None:
    """Raise a one-line error when a checkpoint is of another family than `expected`."""
    family = family_of(meta)
    if family != expected:
        raise CheckpointError(
            f"{path}: checkpoint is a {family} model (family={family}), this command needs a "
            f"{expected}; use {FAMILY_HINTS[family]}"
        )


def build_network(meta: dict[str, Any]) -> nn.Module:
    """A network of the architecture `meta` describes, with its pruned shapes, weights untrained.

    Pretrained-weight files named in the stored config are not read (the checkpoint holds all
    weights), so the checkpoint can be used where those files do not exist.
    """
    import hydra
    from omegaconf import OmegaConf

    from vidlab.models.structure import restore_structure

    try:
        net_cfg = OmegaConf.create(meta["config"]["model"]["net"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(
            "checkpoint meta has no config.model.net to rebuild the network from"
        ) from err
    for key in ("weights", "pretrained"):
        if isinstance(net_cfg.get(key), str):
            net_cfg[key] = None
    net = restore_structure(hydra.utils.instantiate(net_cfg), meta)
    # A Re-ID net's ID classifier is sized for the training identities when fitting starts.
    num_classes = meta.get("num_classes")
    if (
        num_classes
        and getattr(net, "num_classes", None) != num_classes
        and hasattr(net, "reset_classifier")
    ):
        net.reset_classifier(int(num_classes))
    return net


def network_state_dict(
    state_dict: dict[str, torch.Tensor], prefix: str = NET_PREFIX
) -> dict[str, torch.Tensor]:
    """The entries of a LightningModule state dict that belong to its ``net``, unprefixed."""
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def load_network(path: str | Path, family: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The trained network of a checkpoint (eval mode) and its meta.

    Args:
        path: a vidlab checkpoint.
        family: the family the caller needs (None: any); another family raises `CheckpointError`.
    """
    return network_from_checkpoint(load_checkpoint(path), path, family)


def network_from_checkpoint(
    ckpt: dict[str, Any], path: str | Path, family: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """`load_network` for a checkpoint dict already read by `load_checkpoint` (`path` names it
    in errors)."""
    meta = ckpt[META_KEY]
    if family is not None:
        check_family(meta, family, path)
    net = build_network(meta)
    state = network_state_dict(ckpt["state_dict"])
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        lines = [ln.strip() for ln in str(err).splitlines() if "size mismatch" in ln]
        raise CheckpointError(
            f"{path}: weights do not fit the network its config builds: "
            f"{'; '.join(lines[:3]) or str(err).splitlines()[0]}"
        ) from err
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not fit the network its config builds: "
            f"missing {_some(missing)}, unexpected {_some(unexpected)}"
        )
    return net.eval(), meta


def _some(keys: list[str], shown: int = 5) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{keys[:shown]}{more}"
