"""The synthetic action dataset: determinism, balance, shapes, and its motion-only construction."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.datamodules.synthetic import SyntheticActionDataModule
from vidlab.data.synthetic.actions import (
    DIRECTION,
    FACTORS,
    SyntheticActionSpec,
    actor_track,
    generate_split,
    label_to_values,
    load_or_generate,
    render_clip,
)


def test_generation_is_deterministic_and_balanced():
    spec = SyntheticActionSpec(
        factors=("horizontal", "rotation", "scale"), num_frames=4, size=32, seed=3
    )
    a, labels = generate_split(spec, "train", 24)
    b, _ = generate_split(spec, "train", 24)
    assert a.shape == (24, 4, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.bincount(labels).tolist() == [3] * 8
    other = SyntheticActionSpec(factors=spec.factors, num_frames=4, size=32, seed=4)
    other_seed, _ = generate_split(other, "train", 24)
    assert not np.array_equal(a, other_seed)
    val, _ = generate_split(spec, "val", 24)
    assert not np.array_equal(a, val)


@pytest.mark.parametrize("wrap", [False, True])
def test_flipping_every_sign_reverses_time(wrap):
    """With every motion a class factor and no noise or distractors, the class whose signs are all
    flipped is exactly the time-reversed clip: no ordering-free statistic can separate them."""
    spec = SyntheticActionSpec(
        factors=FACTORS, num_frames=6, size=32, num_distractors=0, noise_std=0.0
    )
    all_flipped = spec.num_classes - 1
    for label in range(spec.num_classes):
        clip = render_clip(spec, label, np.random.default_rng(11))
        mirror = render_clip(spec, label ^ all_flipped, np.random.default_rng(11))
        assert np.array_equal(clip[::-1], mirror)


@pytest.mark.parametrize("wrap", [False, True])
def test_reversing_a_direction_clip_gives_the_opposite_class(wrap):
    """The four-way `direction` factor keeps the time-reversal property: right <-> left,
    down <-> up, with rotation and scale flipped too."""
    factors = (DIRECTION, "rotation", "scale")
    spec = SyntheticActionSpec(
        factors=factors, num_frames=6, size=32, num_distractors=0, noise_std=0.0, wrap=wrap
    )
    assert spec.num_classes == 16
    for label in range(spec.num_classes):
        direction, rotation, scale = label_to_values(label, factors)
        mirror_label = (direction ^ 1) + 4 * (rotation ^ 1) + 8 * (scale ^ 1)
        clip = render_clip(spec, label, np.random.default_rng(5))
        mirror = render_clip(spec, mirror_label, np.random.default_rng(5))
        assert np.array_equal(clip[::-1], mirror)


def test_direction_moves_along_one_axis_only():
    spec = SyntheticActionSpec(factors=(DIRECTION,), num_frames=6, size=48, nuisance_motion=False)
    assert spec.class_names() == ["right", "left", "down", "up"]
    for label, expected in enumerate([(1, 0), (-1, 0), (0, 1), (0, -1)]):
        centers, _, _ = actor_track(spec, label, np.random.default_rng(label))
        moved = centers[-1] - centers[0]
        assert np.array_equal(np.sign(np.round(moved, 6)), expected)
        assert np.all((centers > 0) & (centers < spec.size))


def test_one_frame_says_nothing_about_the_direction():
    """Where the actor is in a frame is distributed alike for all four directions: the still axis
    of a clip sits where the moving axis would be in a random frame."""
    spec = SyntheticActionSpec(factors=(DIRECTION,), num_frames=8, size=64)
    stats = []
    for label in range(spec.num_classes):
        offsets = (
            np.concatenate(
                [
                    actor_track(spec, label, np.random.default_rng((label, i)))[0]
                    for i in range(1500)
                ]
            )
            - spec.size / 2
        )  # (clips * T, 2): (x, y) offset from the frame centre, per frame
        stats.append(
            np.concatenate(
                [
                    np.abs(offsets).mean(0),
                    (np.abs(offsets) > 12).mean(0),
                    [np.corrcoef(offsets.T)[0, 1]],
                ]
            )
        )
    stats = np.array(stats)  # (classes, 5): mean |dx|, |dy|, P(|dx| > 12), P(|dy| > 12), corr
    # x and y are exchangeable, and every direction looks alike: within sampling error. Diagonal
    # classes (factors horizontal + vertical) fail the last check with corr(dx, dy) near +-0.97,
    # which is how a frame-level model tells a falling diagonal path from a rising one.
    assert np.ptp(stats[:, :2]) < 0.6
    assert np.ptp(stats[:, 2:4]) < 0.04
    assert np.abs(stats[:, 4]).max() < 0.05


def test_clips_move():
    spec = SyntheticActionSpec(num_frames=6, size=32, noise_std=0.0)
    clip = render_clip(spec, 0, np.random.default_rng(0)).astype(int)
    assert np.abs(clip[0] - clip[-1]).mean() > 1.0


def test_class_names_and_validation():
    spec = SyntheticActionSpec(factors=("horizontal", "scale"))
    assert spec.class_names() == ["right-approach", "left-approach", "right-recede", "left-recede"]
    assert SyntheticActionSpec().class_names() == ["right-down", "left-down", "right-up", "left-up"]
    with pytest.raises(ValueError, match="factors"):
        SyntheticActionSpec(factors=("sideways",))
    with pytest.raises(ValueError, match="replaces"):
        SyntheticActionSpec(factors=(DIRECTION, "horizontal"))
    with pytest.raises(ValueError, match="num_classes=3"):
        SyntheticActionDataModule(factors=["horizontal"], num_classes=3)


def test_disk_cache_round_trip(tmp_path):
    spec = SyntheticActionSpec(num_frames=4, size=32)
    first, _ = load_or_generate(spec, "val", 8, tmp_path)
    assert len(list(tmp_path.glob("val_*.npy"))) == 1
    cached, labels = load_or_generate(spec, "val", 8, tmp_path)
    assert isinstance(cached, np.memmap)
    assert np.array_equal(np.asarray(cached), first)
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


def test_datamodule_batches(tmp_path):
    dm = SyntheticActionDataModule(
        num_frames=4,
        crop_size=32,
        train_size=16,
        val_size=8,
        test_size=8,
        batch_size=4,
        cache_dir=tmp_path,
    )
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (4, 3, 4, 32, 32)
    assert batch["video"].dtype.is_floating_point
    assert abs(float(batch["video"].mean())) < 2.0
    test_batch = next(iter(dm.test_dataloader()))
    assert test_batch["video_index"].tolist() == [0, 1, 2, 3]
    assert dm.data_report()["splits"]["train"]["videos"] == 16
