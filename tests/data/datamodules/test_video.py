"""VideoDataModule built from the real `data=` configs on tiny on-disk layouts."""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from hydra.errors import InstantiationException

from vidlab.data.datamodules.video import DecodeHealthCallback, VideoDataModule
from vidlab.errors import UserError, expected_cause

SMALL = [
    "data.num_frames=4",
    "data.frame_stride=2",
    "data.crop_size=32",
    "data.batch_size=2",
    "data.num_workers=2",
    "data.decode.short_side=null",
]


def build(make_cfg, data: str, root: Path, *overrides: str) -> VideoDataModule:
    cfg = make_cfg("train", [f"data={data}", f"data.root={root}", *SMALL, *overrides])
    return hydra.utils.instantiate(cfg.data)


def red_ids(video: torch.Tensor) -> list[list[int]]:
    """Frame indices encoded in uint8 batch clips (B, T, C, H, W) (see conftest.frame_pattern)."""
    red = video[:, :, 0].float().mean((-2, -1))
    return torch.round((red - 16) / 8).int().tolist()


def test_batches_follow_the_contract(make_cfg, ucf101_layout):
    dm = build(make_cfg, "ucf101", ucf101_layout(), "data.num_classes=3",
               "data.test_views={temporal: 3, spatial: 3}")  # fmt: skip
    dm.setup("fit")
    dm.setup("test")
    assert dm.num_classes == 3 and dm.class_names == [
        "ApplyEyeMakeup",
        "Biking",
        "HandstandPushups",
    ]

    train = list(dm.train_dataloader())
    assert len(train) == 9 // 2  # shuffled, drop_last
    batch = dm.normalize_batch(train[0], train=True)
    assert batch["video"].dtype == torch.float32 and batch["video"].shape == (2, 3, 4, 32, 32)
    assert batch["label"].dtype == torch.int64 and batch["label"].shape == (2,)
    assert batch["view_index"].tolist() == [0, 0] and "soft_label" not in batch
    assert train[0]["video"].dtype == torch.uint8  # workers ship uint8 (B, T, C, H, W)

    val = list(dm.val_dataloader())
    assert sorted(i for b in val for i in b["video_index"].tolist()) == list(range(6))

    test = list(dm.test_dataloader())
    pairs = [
        (v, w)
        for b in test
        for v, w in zip(b["video_index"].tolist(), b["view_index"].tolist(), strict=True)
    ]
    assert sorted(pairs) == [(v, w) for v in range(6) for w in range(9)]  # every K x S view once
    records = dm.datasets["test"].records
    for b in test:
        assert b["label"].tolist() == [records[v].label for v in b["video_index"].tolist()]
        # 24 frames, 4 x stride 2 (span 7): temporal view k starts at floor((k + 0.5) * 17 / 3)
        for ids, view in zip(red_ids(b["video"]), b["view_index"].tolist(), strict=True):
            start = [2, 8, 14][view // 3]
            assert ids == [start, start + 2, start + 4, start + 6]


def test_undecodable_and_missing_videos_are_skipped_and_counted(make_cfg, ucf101_layout, tmp_path):
    broken = {"v_ApplyEyeMakeup_g09_c01.avi": "truncated.mp4", "v_Biking_g10_c01.avi": "empty.mp4",
              "v_Biking_g01_c01.avi": "empty.mp4"}  # fmt: skip
    root = ucf101_layout(broken=broken, missing=("v_HandStandPushups_g08_c01.avi",))
    report_dir = tmp_path / "report"
    dm = build(make_cfg, "ucf101", root, "data.num_classes=3", f"data.report_dir={report_dir}")
    dm.setup("fit")
    dm.setup("test")
    for _ in range(2):  # two epochs: counts are per video, not per attempt
        batches = list(dm.train_dataloader())
        assert len(batches) == 4 and all(len(b["label"]) == 2 for b in batches)
    test_videos = {v for b in dm.test_dataloader() for v in b["video_index"].tolist()}
    assert len(test_videos) == 5  # the empty test video is dropped, the others are all there

    report = dm.data_report()
    assert report["splits"]["train"] | {"annotation": None} == {
        "listed": 9, "found": 8, "missing": 1, "undecodable": 2, "decoded_with_pyav": 0,
        "annotation": None, "error": None}  # fmt: skip
    assert report["splits"]["test"]["undecodable"] == 1
    assert report["videos_used"] == {"train": 8, "val": 6, "test": 6}
    missing = Path(report["missing_list"]).read_text().splitlines()
    assert missing == ["train\tHandstandPushups/v_HandStandPushups_g08_c01.avi"]
    bad = Path(report["undecodable_list"]).read_text().splitlines()
    assert sorted(line.split("\t")[1].split("/")[-1] for line in bad) == sorted(broken)
    assert dm.log_decode_health("train") == 2


def test_pyav_fallback_is_used_and_counted(make_cfg, ucf101_layout):
    root = ucf101_layout(broken={"v_Biking_g08_c01.avi": "av1.mp4"})  # decord cannot read AV1
    dm = build(make_cfg, "ucf101", root, "data.num_classes=3")
    dm.setup("fit")
    seen = set()
    for _ in range(3):  # 8 of the 9 videos per epoch (drop_last): every one is seen in 3
        for batch in dm.train_dataloader():
            for clip, index in zip(batch["video"], batch["video_index"].tolist(), strict=True):
                seen.add(index)
                assert np.all(np.diff(red_ids(clip[None])[0]) == 2)  # real frames, 2 apart
    records = dm.datasets["train"].records
    fallback = next(i for i, r in enumerate(records) if r.path.name == "v_Biking_g08_c01.avi")
    assert fallback in seen
    report = dm.data_report()["splits"]["train"]
    assert report["decoded_with_pyav"] == 1
    assert report["undecodable"] == 0


def test_same_seed_same_batches_whatever_the_worker_count(make_cfg, ucf101_layout):
    root = ucf101_layout()
    epochs = {}
    for workers in (0, 2):
        dm = build(make_cfg, "ucf101", root, "data.num_classes=3", f"data.num_workers={workers}",
                   "data.randaugment={magnitude: 9, num_layers: 2, prob: 0.5}")  # fmt: skip
        dm.setup("fit")
        epochs[workers] = [list(dm.train_dataloader()) for _ in range(2)]
    for a, b in zip(epochs[0][0] + epochs[0][1], epochs[2][0] + epochs[2][1], strict=True):
        assert a["video_index"].tolist() == b["video_index"].tolist()
        assert torch.equal(a["video"], b["video"])
    order = [[i for b in epoch for i in b["video_index"].tolist()] for epoch in epochs[0]]
    assert order[0] != order[1]  # reshuffled every epoch


def test_ssv2_never_flips(make_cfg, ssv2_layout, facts):
    root = ssv2_layout()
    cfg = make_cfg("train", ["data=ssv2", f"data.root={root / 'videos'}",
                             f"data.annotation_dir={root / 'labels'}", "data.num_classes=3", *SMALL])  # fmt: skip
    assert cfg.data.horizontal_flip is False and cfg.data.sampler == "segment"
    dm = hydra.utils.instantiate(cfg.data)
    dm.setup("fit")
    clips = [clip for _ in range(3) for b in dm.train_dataloader() for clip in b["video"]]
    assert len(clips) == 3 * 6
    assert not any(facts.is_mirrored(c.permute(0, 2, 3, 1).numpy()) for c in clips)
    flipping = build(make_cfg, "ssv2", root / "videos", f"data.annotation_dir={root / 'labels'}",
                     "data.num_classes=3", "data.horizontal_flip=true")  # fmt: skip
    flipping.setup("fit")
    flipped = [facts.is_mirrored(c.permute(0, 2, 3, 1).numpy())
               for _ in range(3) for b in flipping.train_dataloader() for c in b["video"]]  # fmt: skip
    assert any(flipped)  # the same pipeline does flip when allowed


def test_slowfast_packing_and_mixup(make_cfg, ucf101_layout):
    dm = build(make_cfg, "ucf101", ucf101_layout(), "data.num_classes=3", "data.num_workers=0",
               "data.slowfast_alpha=2", "data.mixup={mixup_alpha: 0.8, cutmix_alpha: 1.0}")  # fmt: skip
    dm.setup("fit")
    raw = next(iter(dm.train_dataloader()))
    batch = dm.normalize_batch(raw, train=True)
    slow, fast = batch["video"]
    assert slow.shape == (2, 3, 2, 32, 32) and fast.shape == (2, 3, 4, 32, 32)
    assert batch["soft_label"].shape == (2, 3)
    torch.testing.assert_close(batch["soft_label"].sum(1), torch.ones(2))
    again = dm.normalize_batch(raw, train=True)  # mixing draws from the samples' seeds
    torch.testing.assert_close(again["soft_label"], batch["soft_label"])
    assert "soft_label" not in dm.normalize_batch(raw, train=False)


def test_configuration_errors_are_explicit(make_cfg, ucf101_layout, ssv2_layout, tmp_path):
    root = ucf101_layout()
    with pytest.raises(ValueError, match="data.num_classes=101 but the ucf101 layout .* defines 3"):
        build(make_cfg, "ucf101", root).setup("fit")
    ssv2 = ssv2_layout()
    dm = build(make_cfg, "ssv2", ssv2 / "videos", f"data.annotation_dir={ssv2 / 'labels'}",
               "data.num_classes=3", "data.stage_splits.test=test")  # fmt: skip
    with pytest.raises(ValueError, match="split 'test' .* has no labels"):
        dm.setup("test")
    empty = tmp_path / "empty_root"
    empty.mkdir()
    dm = build(make_cfg, "ucf101", empty, f"data.annotation_dir={root}", "data.num_classes=3")
    with pytest.raises(FileNotFoundError, match="none of its 9 listed videos is under"):
        dm.setup("fit")


def test_kinetics_missing_videos_are_reported(make_cfg, kinetics_layout, tmp_path):
    root = kinetics_layout(missing=("3caPS4FHFF8", "2cPLjY5AWXUV"))
    dm = build(make_cfg, "kinetics400", root / "videos", f"data.annotation_dir={root / 'annotations'}",
               "data.num_classes=3", f"data.report_dir={tmp_path}")  # fmt: skip
    dm.setup("fit")
    report = dm.data_report()
    assert {s: (v["listed"], v["found"], v["missing"]) for s, v in report["splits"].items()} == {
        "train": (5, 4, 1), "val": (5, 4, 1), "test": (0, 0, 0)}  # fmt: skip
    assert report["splits"]["test"]["error"].startswith("no annotation file")
    assert report["videos_used"] == {"train": 4, "val": 4, "test": 4}  # test -> val
    assert sorted(Path(report["missing_list"]).read_text().splitlines()) == [
        "train\t3caPS4FHFF8_000036_000046", "val\t2cPLjY5AWXUV_000001_000011"]  # fmt: skip


class PooledLinear(pl.LightningModule):
    """The smallest classifier: mean over (T, H, W), a linear layer. Checks what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 3)
        self.seen: list[tuple] = []

    def step(self, batch: dict) -> torch.Tensor:
        video = batch["video"]
        self.seen.append((video.dtype, tuple(video.shape)))
        return torch.nn.functional.cross_entropy(self.head(video.mean((2, 3, 4))), batch["label"])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.step(batch)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.step(batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_gets_normalised_batches_and_epoch_health_logs(make_cfg, ucf101_layout, caplog):
    root = ucf101_layout(broken={"v_Biking_g10_c01.avi": "empty.mp4"})
    dm = build(make_cfg, "ucf101", root, "data.num_classes=3")
    module = PooledLinear()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=1)  # fmt: skip
    with caplog.at_level("INFO", logger="vidlab.data.datamodules.video"):
        trainer.fit(module, datamodule=dm)
    assert {s for s in module.seen} == {(torch.float32, (2, 3, 4, 32, 32))}
    assert sum(isinstance(c, DecodeHealthCallback) for c in trainer.callbacks) == 1
    health = [
        r.getMessage() for r in caplog.records if "undecodable videos skipped" in r.getMessage()
    ]
    assert len([m for m in health if m.startswith("train split")]) == 2  # one per epoch
    assert health[-1].startswith("train split 'train': 1 undecodable")


def test_eval_decodes_at_reduced_resolution(make_cfg, ucf101_layout, facts):
    dm = build(
        make_cfg, "ucf101", ucf101_layout(), "data.num_classes=3", "data.decode.short_side=auto"
    )
    dm.setup("validate")
    dataset = dm.datasets["val"]
    assert dataset.decode.short_side == 32  # eval_short_side = crop_size
    batches = list(dm.val_dataloader())
    assert {tuple(b["video"].shape[1:]) for b in batches} == {(4, 3, 32, 32)}
    # The stored size was probed in a worker and is visible here through shared memory.
    assert dataset.status.frame_size(0) == (facts.height, facts.width)
    assert dm.datasets.get("train") is None  # only what the stage needs is built


def test_bad_settings_and_missing_root_name_what_is_wrong(make_cfg, folder_layout, tmp_path):
    root = folder_layout()
    for setting in ("data.num_frames=0", "data.frame_stride=-1", "data.batch_size=0"):
        with pytest.raises(InstantiationException) as info:
            build(make_cfg, "video_folder", root, "data.num_classes=2", setting)
        cause = expected_cause(info.value)
        assert isinstance(cause, UserError) and str(cause).startswith(setting + ", expected")
    missing = tmp_path / "no_such_root"
    dm = build(make_cfg, "video_folder", missing, "data.num_classes=2")
    with pytest.raises(FileNotFoundError, match=f"{missing}: video folder root not found"):
        dm.setup("fit")
    empty = tmp_path / "empty_root"
    empty.mkdir()
    dm = build(make_cfg, "video_folder", empty, "data.num_classes=2")
    with pytest.raises(FileNotFoundError, match=r"none of the split folders \['test', 'train'"):
        dm.setup("fit")
