"""Model families of the export stage: what an artifact computes and how it is judged.

One export stage (`vidlab.export.stage`) serves every family; a family says only what differs:

- which module is exported (the bare classifier; the L2-normalised embedding of a Re-ID network),
- the input and output names and the card's description of them: a family may have several
  graph inputs (a two-pathway SlowFast classifier takes ``slow`` and ``fast``, both built from one
  decoded clip; a two-stream classifier ``rgb`` and ``flow``, the flow computed from the clip with
  the settings its training data used, which the card records; `vidlab.export.inputs`),
- which formats make sense (an int8 embedding has no top-1 gate to be judged by),
- the parity criterion: logits within ``atol`` (or top-1 agreement for int8); embeddings with a
  per-sample cosine similarity of at least ``min_cosine``; detections after threshold and NMS equal
  to the eager torchvision model's own (`vidlab.export.detector`).

A family whose artifact depends on the checkpoint beyond its weights (a detector's fixed input size
and post-processing) is specialised per checkpoint with ``bind`` (`Family.for_checkpoint`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from vidlab.checkpoint import CLASSIFIER, DETECTOR, EMBEDDING
from vidlab.data.transforms.flow import ClipFlow
from vidlab.errors import UserError
from vidlab.export import detector as det
from vidlab.export.inputs import (
    ChannelInputs,
    InputSpec,
    PathwayInputs,
    clip_input_specs,
    flow_input_specs,
)
from vidlab.export.program import make_exportable
from vidlab.export.reid import MIN_COSINE, NormalizedEmbedding, embedding_parity
from vidlab.export.verify import compare_outputs

VALUE_RANGE = "RGB in [0, 1] before normalisation"


class Parity(Protocol):
    """What every parity result offers the stage and the report."""

    max_abs_diff: float
    num_samples: int

    @property
    def ok(self) -> bool: ...

    def describe(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Family:
    """What the export stage needs to know about one model family.

    Attributes:
        name: the family name (`vidlab.checkpoint.FAMILIES`).
        input_names / output_name: tensor names in ONNX graphs and cards (one per graph input).
        formats: the export formats this family can be written to.
        wrap: the module an artifact computes, from the checkpoint's bare network.
        input_card / output_card: the card's ``input`` / ``output`` sections, from the meta.
        preprocessing: the card's preprocessing steps, from the meta.
        extra_card: family-specific top-level card sections (class names, window sampling).
        compare: parity of (N, ...) eager outputs and artifact outputs, given the options and
            whether the format is quantized.
        onnx_metadata: ``vidlab.*`` metadata written into ONNX files (None: none).
        bind: specialises the family for one checkpoint, from its bare network and meta (None:
            the family is the same for every checkpoint).
        reference: the eager outputs `compare` judges artifacts against, from the wrapped module
            and the parity samples (None: the wrapped module's outputs).
    """

    name: str
    input_names: tuple[str, ...]
    output_name: str
    formats: tuple[str, ...]
    wrap: Callable[[nn.Module], nn.Module]
    input_card: Callable[[dict[str, Any]], dict[str, Any]]
    output_card: Callable[[dict[str, Any]], dict[str, Any]]
    preprocessing: Callable[[dict[str, Any]], list[str]]
    extra_card: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    compare: Callable[[np.ndarray, np.ndarray, dict[str, Any], bool], Parity]
    onnx_metadata: Callable[[dict[str, Any]], dict[str, Any] | None]
    bind: Callable[[Family, nn.Module, dict[str, Any]], Family] | None = None
    reference: Callable[[nn.Module, torch.Tensor], np.ndarray] | None = None

    def for_checkpoint(self, net: nn.Module, meta: dict[str, Any]) -> Family:
        """The family specialised for the checkpoint of `net` and `meta` (see ``bind``)."""
        return self if self.bind is None else self.bind(self, net, meta)

    def accuracy(self, outputs: np.ndarray, labels: np.ndarray | None) -> float:
        """Top-1 accuracy of classifier outputs against labels (NaN where it has no meaning)."""
        if self.name != CLASSIFIER or labels is None:
            return math.nan
        return float(np.mean(outputs.argmax(1) == labels))


# ----------------------------------------------------------------------------------- classifier


def _data_cfg(meta: dict[str, Any]) -> dict[str, Any]:
    """The training run's ``data`` config stored in the checkpoint meta ({} if none)."""
    return (meta.get("config") or {}).get("data") or {}


def _clip_spec(meta: dict[str, Any]) -> dict[str, Any]:
    spec = meta["input"]
    data_cfg = _data_cfg(meta)
    crop = int(spec["crop_size"])
    return {
        "num_frames": int(spec["num_frames"]),
        "frame_stride": int(spec["frame_stride"]),
        "crop_size": crop,
        "short_side": int(data_cfg.get("eval_short_side") or crop),
        "mean": [float(m) for m in spec["mean"]],
        "std": [float(s) for s in spec["std"]],
    }


def _input_card(name: str, layout: str, shape: list[int], spec: dict[str, Any]) -> dict[str, Any]:
    """The card's ``input`` section: a float32 batch of normalised RGB, whatever the family."""
    return {
        "name": name,
        "dtype": "float32",
        "layout": layout,
        "shape": ["batch", *shape],
        **spec,
        "value_range": VALUE_RANGE,
    }


def _classifier_input(meta: dict[str, Any]) -> dict[str, Any]:
    s = _clip_spec(meta)
    return _input_card("video", "NCTHW", [3, s["num_frames"], s["crop_size"], s["crop_size"]], s)


def _classifier_output(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "logits",
        "shape": ["batch", len(meta["class_names"])],
        "postprocessing": "softmax over classes",
    }


def _classifier_preprocessing(meta: dict[str, Any]) -> list[str]:
    s = _clip_spec(meta)
    steps = [
        "decode RGB frames (uint8, H x W x 3)",
        f"resize so the short side is {s['short_side']} px (bilinear, antialiased)",
        f"centre crop {s['crop_size']} x {s['crop_size']}",
        "scale to [0, 1], subtract mean, divide by std (per channel)",
        "stack to (3, T, H, W) and batch",
    ]
    flow = flow_settings(meta)
    if flow is not None:
        steps += [
            f"optical flow of the cropped uint8 frames (card: flow): OpenCV DIS, preset "
            f"{flow.preset}, on grey frames, frame t to t + 1 (the last frame repeats the "
            f"previous flow), rounded to {flow.storage_dtype}, divided by {flow.scale}; stack to "
            "(2, T, H, W) and batch",
            "inputs: rgb = the normalised RGB clip, flow = its flow (card: inputs)",
        ]
    return steps


def pathway_alpha(meta: dict[str, Any]) -> int | None:
    """The Fast / Slow frame-rate ratio of a two-pathway (SlowFast) classifier, else None."""
    data_cfg = _data_cfg(meta)
    alpha = meta["input"].get("slowfast_alpha", data_cfg.get("slowfast_alpha"))
    return int(alpha) if alpha else None


#: Networks that take RGB + optical flow stacked along the channels (the two-stream network): a
#: checkpoint of one must record its training data's flow settings.
FLOW_NETS = ("vidlab.models.two_stream.TwoStream",)
RGB_CHANNELS, FLOW_CHANNELS = 3, 2


def flow_settings(meta: dict[str, Any]) -> ClipFlow | None:
    """How the checkpoint's training data computed the flow channels of its clips (the data
    config's ``flow_preset`` and ``flow_scale``, `vidlab.data.datamodules.synthetic_flow`), or None
    for RGB-only data."""
    data_cfg = _data_cfg(meta)
    if data_cfg.get("flow_preset") is None:
        return None
    return ClipFlow(str(data_cfg["flow_preset"]), float(data_cfg.get("flow_scale") or 1.0))


def classifier_inputs(meta: dict[str, Any]) -> list[InputSpec]:
    """The graph inputs of a classifier checkpoint: ``video``, SlowFast's ``slow`` and ``fast``, or
    a two-stream network's ``rgb`` and ``flow``.

    Raises:
        UserError: a network that takes flow without the flow settings in its checkpoint, or flow
            with SlowFast pathways.
    """
    net = (((meta.get("config") or {}).get("model") or {}).get("net") or {}).get("_target_")
    num_frames = int(meta["input"]["num_frames"])
    flow = flow_settings(meta)
    if flow is None and net in FLOW_NETS:
        raise UserError(
            f"{net} takes RGB + optical flow, but the checkpoint's data config "
            f"({_data_cfg(meta).get('_target_')}) records no flow settings (flow_preset, "
            "flow_scale) to compute the flow with at inference; expected a checkpoint trained on "
            "flow data (data=synthetic_actions_flow)"
        )
    if flow is None:
        return clip_input_specs(num_frames, pathway_alpha(meta))
    if pathway_alpha(meta):
        raise UserError(
            f"{net}: a checkpoint with both SlowFast pathways and a flow input; expected one of them"
        )
    return flow_input_specs(num_frames, RGB_CHANNELS, FLOW_CHANNELS)


def _classifier_extra(meta: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    s = _clip_spec(meta)
    span = s["num_frames"] * s["frame_stride"]
    flow = flow_settings(meta)
    return {
        "inputs": [spec.card(RGB_CHANNELS, s["crop_size"]) for spec in classifier_inputs(meta)],
        **({"flow": flow.card()} if flow is not None else {}),
        "class_names": list(meta["class_names"]),
        "sampling": {
            "num_frames": s["num_frames"],
            "frame_stride": s["frame_stride"],
            "window_stride": int(options.get("window_stride") or span),
            "aggregation": "mean of per-window softmax probabilities",
        },
    }


def _bind_classifier(family: Family, net: nn.Module, meta: dict[str, Any]) -> Family:
    """The classifier family for one checkpoint: a multi-input network is exported with one graph
    input per pathway (`PathwayInputs`) or per stream of its stacked clip (`ChannelInputs`: RGB and
    flow), each described on the card."""
    specs = classifier_inputs(meta)
    if len(specs) == 1:
        return replace(family, bind=None)
    wrapper = ChannelInputs if specs[0].channels is not None else PathwayInputs
    return replace(
        family,
        input_names=tuple(spec.name for spec in specs),
        wrap=lambda n: wrapper(make_exportable(n)),
        bind=None,
    )


def _compare_logits(
    reference: np.ndarray, candidate: np.ndarray, options: dict[str, Any], quantized: bool
) -> Parity:
    min_agreement = float(options["min_top1_agreement"]) if quantized else None
    return compare_outputs(reference, candidate, float(options["atol"]), min_agreement)


# ------------------------------------------------------------------------------------ embedding


def _image_spec(meta: dict[str, Any]) -> dict[str, Any]:
    spec = meta["input"]
    height, width = (int(v) for v in spec["image_size"])
    return {
        "image_size": [height, width],
        "mean": [float(m) for m in spec["mean"]],
        "std": [float(s) for s in spec["std"]],
    }


def _embedding_input(meta: dict[str, Any]) -> dict[str, Any]:
    s = _image_spec(meta)
    return _input_card("image", "NCHW", [3, *s["image_size"]], s)


def _embedding_output(meta: dict[str, Any]) -> dict[str, Any]:
    dim = int(meta["embedding_dim"])
    return {
        "name": "embedding",
        "shape": ["batch", dim],
        "embedding_dim": dim,
        "l2_normalized": True,
        "feature": "BNNeck",
        "distance": "cosine (= 1 - dot product)",
    }


def _embedding_preprocessing(meta: dict[str, Any]) -> list[str]:
    height, width = _image_spec(meta)["image_size"]
    return [
        "crop the person box from the RGB frame (clipped to the image)",
        f"resize to {height} x {width} (height x width)",
        "scale to [0, 1], subtract mean, divide by std (per channel)",
        "stack to (3, H, W) and batch",
    ]


def _embedding_extra(meta: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    return {"class_names": list(meta.get("class_names") or [])}


def _compare_embeddings(
    reference: np.ndarray, candidate: np.ndarray, options: dict[str, Any], quantized: bool
) -> Parity:
    return embedding_parity(reference, candidate, float(options.get("min_cosine", MIN_COSINE)))


def _embedding_onnx_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "input": _image_spec(meta),
        "embedding_dim": int(meta["embedding_dim"]),
        "l2_normalized": True,
    }


# ------------------------------------------------------------------------------------- detector

#: Why detector bundles take one fixed input size (written on the card).
FIXED_SIZE_NOTE = (
    "fixed input size: the network runs at image_size (the size it was trained at, unless "
    "trained_image_size says otherwise), frames of any size are letterboxed to it (scaled to fit, padded right and bottom); with the size fixed the anchors "
    "are constants of the graph and box decoding is exported with the network, and torchvision's "
    "internal resize is the identity, so the artifact computes exactly what the eager model does"
)


def _detector_spec(meta: dict[str, Any]) -> dict[str, Any]:
    spec = meta["input"]
    height, width = (int(v) for v in spec["image_size"])
    return {
        "image_size": [height, width],
        "mean": [float(m) for m in spec["mean"]],
        "std": [float(s) for s in spec["std"]],
        "resize": "letterbox",
        "letterbox_pad": str(spec.get("letterbox_pad", "right-bottom")),
        "pad_value": int(spec.get("pad_value", 114)),
    }


def _detector_input(meta: dict[str, Any]) -> dict[str, Any]:
    s = _detector_spec(meta)
    return {
        **_input_card("images", "NCHW", [3, *s["image_size"]], s),
        "normalised_in_network": True,
        "value_range": "RGB in [0, 1]; the network normalises with mean/std inside",
        "fixed_size": FIXED_SIZE_NOTE,
    } | (
        {"trained_image_size": [int(v) for v in meta["input"]["trained_image_size"]]}
        if "trained_image_size" in meta["input"]
        else {}
    )


def _detector_preprocessing(meta: dict[str, Any]) -> list[str]:
    s = _detector_spec(meta)
    height, width = s["image_size"]
    return [
        "decode RGB frames (uint8, H x W x 3)",
        f"letterbox to {height} x {width}: scale = min({height} / H, {width} / W), resize "
        "(area when shrinking, bilinear when enlarging), pad right and bottom with "
        f"{s['pad_value']}",
        "scale to [0, 1] (no mean/std: the network normalises inside)",
        "stack to (3, H, W) and batch",
        "after post-processing, divide boxes by the scale to get original pixels",
    ]


def _detector_output(exported: det.DetectorExport) -> dict[str, Any]:
    post = exported.post
    score = (
        "sqrt(sigmoid(cls) * sigmoid(centerness))" if exported.arch == "fcos" else "sigmoid(cls)"
    )
    return {
        "name": "detections",
        "shape": ["batch", post.num_anchors, 4 + post.num_classes],
        "box_format": "xyxy",
        "box_units": "input pixels (letterboxed image), clipped to it",
        "scores": f"per class, {score}; class 0 is background (scored, as torchvision does)",
        "postprocessing": "see the card's postprocessing section",
    }


def _needs_checkpoint(*args: Any) -> Any:
    raise ValueError(
        "the detector family is specialised per checkpoint: use "
        "get_family('detector').for_checkpoint(net, meta)"
    )


def _bind_detector(family: Family, net: nn.Module, meta: dict[str, Any]) -> Family:
    """The detector family for one checkpoint: its fixed input size and post-processing."""
    exported = det.DetectorExport(net, meta["input"]["image_size"]).eval()
    post = exported.post
    postprocessing = {
        "architecture": exported.arch,
        **post.as_card(),
        "person_label": int(meta["input"].get("person_label", 1)),
        "steps": [
            "per level: scores above score_thresh, the best topk_candidates (anchor, class) pairs",
            "class-wise NMS at nms_thresh (torchvision.ops.batched_nms)",
            "keep the best detections_per_img",
            "keep label == person_label",
        ],
        "shared_implementation": "vidlab.export.detector.PostProcess",
    }

    def compare(
        reference: np.ndarray, candidate: np.ndarray, options: dict[str, Any], quantized: bool
    ) -> Parity:
        return det.detection_parity(
            reference,
            candidate,
            post,
            quantized=quantized,
            box_atol=float(options.get("box_atol", det.BOX_ATOL)),
            score_atol=float(options.get("score_atol", det.SCORE_ATOL)),
            min_agreement=float(options.get("min_box_agreement", det.MIN_BOX_AGREEMENT)),
        )

    def extra(meta: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        return {
            "class_names": list(meta.get("class_names") or ["person"]),
            "postprocessing": postprocessing,
        }

    return replace(
        family,
        wrap=lambda _net: exported,
        output_card=lambda _meta: _detector_output(exported),
        extra_card=extra,
        compare=compare,
        bind=None,
        onnx_metadata=lambda m: {"input": _detector_spec(m), "postprocessing": postprocessing},
        reference=lambda eager, samples: det.eager_detections(
            eager.model, samples, post.detections_per_img
        ),
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            CLASSIFIER,
            ("video",),
            "logits",
            (
                "onnx",
                "torchscript",
                "torch_export",
                "onnx_int8",
                "pt2e_int8",
                "dynamic_int8",
                "openvino",
            ),
            make_exportable,
            _classifier_input,
            _classifier_output,
            _classifier_preprocessing,
            _classifier_extra,
            _compare_logits,
            lambda meta: None,
            bind=_bind_classifier,
        ),
        Family(
            EMBEDDING,
            ("image",),
            "embedding",
            ("onnx", "torchscript", "torch_export", "openvino"),
            NormalizedEmbedding,
            _embedding_input,
            _embedding_output,
            _embedding_preprocessing,
            _embedding_extra,
            _compare_embeddings,
            _embedding_onnx_metadata,
        ),
        Family(
            DETECTOR,
            ("images",),
            "detections",
            ("onnx", "torchscript", "torch_export", "onnx_int8"),
            _needs_checkpoint,
            _detector_input,
            _needs_checkpoint,
            _detector_preprocessing,
            _needs_checkpoint,
            _needs_checkpoint,
            _needs_checkpoint,
            bind=_bind_detector,
        ),
    )
}


def get_family(name: str) -> Family:
    """The export family called `name` (the checkpoint's family)."""
    if name not in FAMILIES:
        raise ValueError(
            f"no export support for model family {name!r}; exportable families: {sorted(FAMILIES)}"
        )
    return FAMILIES[name]
