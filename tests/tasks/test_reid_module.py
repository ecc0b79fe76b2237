"""ReIDModule on a tiny in-memory identity set: training, retrieval metrics, checkpoint round trip."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from vidlab.models.reid import ReIDNet
from vidlab.tasks.reid import ReIDModule, reid_from_checkpoint
from vidlab.tasks.video_classification import CKPT_META_KEY

SIZE = (32, 16)


class _Crops(Dataset):
    """Identity i: a two-colour figure (colours from i), noise and a random shift per image."""

    def __init__(self, pids, camids, seed):
        self.pids, self.camids = list(pids), list(camids)
        rng = np.random.default_rng(seed)
        self.images = []
        for pid in self.pids:
            colours = np.random.default_rng(pid).uniform(-1.5, 1.5, (2, 3))
            img = rng.normal(0, 0.3, (3, *SIZE)).astype(np.float32)
            half = SIZE[0] // 2
            img[:, :half] += colours[0][:, None, None]
            img[:, half:] += colours[1][:, None, None]
            self.images.append(torch.from_numpy(np.roll(img, rng.integers(-2, 3), axis=2)))

    def __len__(self):
        return len(self.pids)

    def __getitem__(self, i):
        return {"image": self.images[i], "pid": self.pids[i], "camid": self.camids[i], "index": i}


class FakeReIDData(pl.LightningDataModule):
    """R1's ReIDDataModule contract in miniature: 8 train ids, 6 test ids over 2 cameras."""

    def __init__(self):
        super().__init__()
        self.num_classes, self.class_names = None, []

    def setup(self, stage=None):
        self.num_classes = 8
        train_pids = np.repeat(np.arange(8), 4)
        self.train = _Crops(train_pids, np.zeros(32, int), 0)
        self.query = _Crops(np.arange(100, 106), np.zeros(6, int), 1)
        gallery = np.repeat(np.arange(100, 106), 3)
        self.gallery = _Crops(gallery, np.ones(18, int), 2)
        self.query_size, self.gallery_size = 6, 18

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=16, shuffle=True)

    def val_dataloader(self):
        return [DataLoader(self.query, batch_size=8), DataLoader(self.gallery, batch_size=8)]

    test_dataloader = val_dataloader

    def input_spec(self):
        return {
            "image_size": list(SIZE),
            "mean": [0.5] * 3,
            "std": [0.25] * 3,
            "layout": "NCHW",
            "value_range": "RGB in [0, 1] before normalisation",
        }


def _module(backbone="test_resnet", **kwargs):
    net = ReIDNet(backbone=backbone, image_size=SIZE, last_stride=1)
    return ReIDModule(net, partial(torch.optim.Adam, lr=1e-3), None, **kwargs)


def _trainer(tmp_path, epochs=2):
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        enable_checkpointing=False,
        num_sanity_val_steps=1,
    )


def test_classifier_sized_from_datamodule_and_metrics_logged(tmp_path):
    torch.manual_seed(0)
    module = _module("resnet18", center_loss_weight=5e-4)
    assert module.num_classes is None
    trainer = _trainer(tmp_path)
    trainer.fit(module, datamodule=FakeReIDData())
    assert module.num_classes == 8 and module.net.num_classes == 8
    assert module.hparams["num_classes"] == 8
    logged = trainer.callback_metrics
    for key in ("val/rank1", "val/rank5", "val/mAP", "val/mINP", "train/center", "train/triplet"):
        assert key in logged, key
    # 6 distinct colour identities: a trained embedding retrieves them far above chance (1/6).
    assert float(logged["val/mAP"]) > 0.5
    # Center loss has its own parameter group with its own learning rate.
    groups = trainer.optimizers[0].param_groups
    assert groups[-1]["lr"] == module.center_lr and groups[-1]["weight_decay"] == 0.0


def test_checkpoint_round_trip_rebuilds_the_same_embeddings(tmp_path):
    from omegaconf import OmegaConf

    torch.manual_seed(0)
    module = _module(flip_test=True)
    data = FakeReIDData()
    trainer = _trainer(tmp_path, epochs=1)
    net_cfg = {
        "_target_": "vidlab.models.reid.ReIDNet",
        "backbone": "test_resnet",
        "image_size": list(SIZE),
        "last_stride": 1,
        "weights": "/not/here.pth",
    }
    module.checkpoint_meta = {
        "config": OmegaConf.to_container(
            OmegaConf.create(
                {
                    "model": {
                        "_target_": "vidlab.tasks.reid.ReIDModule",
                        "num_classes": None,
                        "flip_test": True,
                        "net": net_cfg,
                    }
                }
            )
        ),
        "class_names": [],
        "input": data.input_spec(),
    }
    trainer.fit(module, datamodule=data)
    path = tmp_path / "reid.ckpt"
    trainer.save_checkpoint(path)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw[CKPT_META_KEY]["task"] == "reid"
    assert raw[CKPT_META_KEY]["num_classes"] == 8
    assert raw[CKPT_META_KEY]["embedding_dim"] == module.net.num_features
    loaded, meta = reid_from_checkpoint(path)  # the missing weight file is not needed
    assert loaded.num_classes == 8 and loaded.flip_test and meta["input"]["image_size"] == [32, 16]
    x = data.query.images[0][None]
    module.eval()
    torch.testing.assert_close(loaded.embed(x), module.embed(x))
    flipped = 0.5 * (module.net(x) + module.net(x.flip(dims=(3,))))
    torch.testing.assert_close(module.embed(x), flipped)


def test_test_split_with_rerank_and_sizes(tmp_path):
    torch.manual_seed(0)
    module = _module(num_classes=8, rerank=True, rerank_k1=4, rerank_k2=2)
    trainer = _trainer(tmp_path, epochs=1)
    data = FakeReIDData()
    trainer.fit(module, datamodule=data)
    results = trainer.test(module, datamodule=data, verbose=False)
    merged = {k: v for r in results for k, v in r.items()}
    assert {"test/rank1", "test/mAP", "test/mINP"} <= set(merged)
    assert 0.0 <= merged["test/mINP"] <= merged["test/mAP"] <= 1.0
    plain = module.distances(np.eye(3, 4, dtype=np.float32), np.eye(5, 4, dtype=np.float32))
    assert plain.shape == (3, 5)
    reranked = module.distances(
        np.eye(3, 4, dtype=np.float32), np.eye(5, 4, dtype=np.float32), rerank=True
    )
    assert reranked.shape == (3, 5)


def test_missing_identity_count_is_reported(tmp_path):
    class NoCount(FakeReIDData):
        def setup(self, stage=None):
            super().setup(stage)
            self.num_classes = None

    with pytest.raises(ValueError, match="num_classes"):
        _trainer(tmp_path).fit(_module(), datamodule=NoCount())
