"""ReIDDataModule on a tiny Market folder and on a tiny synthetic set built through the config."""

from __future__ import annotations

import hydra
import numpy as np
import pytest
import torch

from vidlab.data.reid.datamodule import ReIDDataModule
from vidlab.evaluation.reid import evaluate_retrieval, pairwise_distance

# A small synthetic set: 2 sequences of 90 frames at 320 x 180, about 40 identities.
TINY_SYNTHETIC = [
    "data=synthetic_reid",
    "data.builder.n_sequences=2",
    "data.builder.num_frames=90",
    "data.builder.width=320",
    "data.builder.height=180",
    "data.builder.crops.min_height=24",
    "data.builder.crops.min_width=8",
    "data.builder.crops.num_time_spans=3",
    "data.builder.crops.span_gap=2",
    "data.builder.crops.num_train_ids=12",
    "data.image_size=[64,32]",
    "data.p_identities=4",
    "data.k_instances=2",
    "data.batch_size=16",
]


def test_market_datamodule_contract(market_folder, facts):
    dm = ReIDDataModule(
        root=market_folder(facts.market_layout()),
        image_size=[32, 16],
        p_identities=2,
        k_instances=3,
        batch_size=4,
        seed=1,
        num_classes=3,
    )
    assert dm.num_classes == 3  # available before setup too
    dm.setup("fit")
    assert dm.class_names == [] and (dm.query_size, dm.gallery_size) == (2, 6)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "pid", "camid"}
    assert batch["image"].shape == (6, 3, 32, 16) and batch["image"].dtype == torch.float32
    assert batch["pid"].dtype == torch.int64 and set(batch["pid"].tolist()) <= {0, 1, 2}
    assert len(set(batch["pid"].tolist())) == 2 and batch["camid"].min() >= 1
    loaders = dm.val_dataloader()
    assert isinstance(loaders, list) and len(loaders) == 2
    query, gallery = (next(iter(loader)) for loader in dm.test_dataloader())
    assert set(query) == {"image", "pid", "camid", "index"}
    assert query["pid"].tolist() == [3, 5] and query["index"].tolist() == [0, 1]
    assert gallery["image"].shape == (4, 3, 32, 16)
    pids, cams = dm.eval_labels("gallery")
    assert sorted(pids.tolist()) == [-1, 0, 3, 3, 5, 5] and cams.dtype == np.int64
    # Eval images are not augmented: the colour of identity 3's crop comes back exactly.
    rgb = query["image"][0] * torch.tensor(dm.std).view(3, 1, 1) + torch.tensor(dm.mean).view(
        3, 1, 1
    )
    expected = torch.tensor(facts.pid_colour(3)[::-1], dtype=torch.float32) / 255
    torch.testing.assert_close(rgb.mean((1, 2)), expected, atol=3 / 255, rtol=0)
    assert dm.input_spec() == {
        "image_size": [32, 16],
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "layout": "NCHW",
        "value_range": "RGB in [0, 1] before normalisation",
    }
    report = dm.data_report()
    assert report["seed"] == 1 and report["splits"]["train"] == {"ids": 3, "images": 7}


def test_construction_errors(market_folder, facts, tmp_path):
    root = market_folder(facts.market_layout())
    with pytest.raises(ValueError, match="exactly one of root"):
        ReIDDataModule()
    with pytest.raises(ValueError, match="3 training identities but num_classes=5"):
        ReIDDataModule(root=root, num_classes=5).setup("fit")
    with pytest.raises(TypeError, match="no build"):
        ReIDDataModule(builder=object())
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ReIDDataModule(root=tmp_path / "nowhere").setup("fit")


def _colour_features(loader) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean colour of the upper and lower half of each image: a weight-free embedding."""
    feats, pids, cams = [], [], []
    for b in loader:
        top, bottom = b["image"].chunk(2, dim=2)
        feats.append(torch.cat([top.mean((2, 3)), bottom.mean((2, 3))], 1))
        pids.append(b["pid"])
        cams.append(b["camid"])
    return torch.cat(feats).numpy(), torch.cat(pids).numpy(), torch.cat(cams).numpy()


def test_synthetic_config_builds_caches_and_is_learnable(make_cfg):
    cfg = make_cfg("train", TINY_SYNTHETIC)
    assert cfg.data.num_classes == 12
    dm = hydra.utils.instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    report = dm.data_report()
    assert report["num_classes"] == 12 == dm.num_classes
    assert report["splits"]["query"]["images"] > 10 and report["splits"]["gallery"]["ids"] >= 10
    manifest = dm.splits.root / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    again = hydra.utils.instantiate(cfg.data)
    assert again.num_classes == 12 and manifest.stat().st_mtime_ns == stamp  # reused, not rebuilt
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (8, 3, 64, 32)
    # Sprite colours identify people: even raw colour statistics retrieve far above chance.
    q, g = (_colour_features(loader) for loader in dm.test_dataloader())
    res = evaluate_retrieval(pairwise_distance(q[0], g[0], "euclidean"), q[1], g[1], q[2], g[2])
    chance = 1.0 / report["splits"]["gallery"]["ids"]
    assert res.rank1 > 5 * chance and res.num_valid_queries == len(q[1])
