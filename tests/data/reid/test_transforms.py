"""Re-ID transforms: evaluation preprocessing equals the tracker's, and each augmentation."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vidlab.data.reid.transforms import build_transform, load_reid_images, read_rgb, to_chw_tensor
from vidlab.tracking.encoders import crop_batch

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SIZE = (32, 16)


def _image(tmp_path):
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (50, 22, 3), dtype=np.uint8)
    path = tmp_path / "0001_c1s1_000001_00.png"  # lossless: exact pixel comparisons
    cv2.imwrite(str(path), bgr)
    return path, bgr


def test_eval_preprocessing_matches_the_tracker_encoder(tmp_path):
    path, bgr = _image(tmp_path)
    ours = load_reid_images([path, path], SIZE, MEAN, STD)
    assert ours.shape == (2, 3, 32, 16) and ours.dtype == torch.float32
    # The tracker cuts the same pixels out of a frame with crop_batch.
    frame = np.zeros((80, 60, 3), np.uint8)
    frame[10:60, 20:42] = bgr
    theirs = crop_batch(frame, np.array([[20.0, 10.0, 42.0, 60.0]]), SIZE, MEAN, STD)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0], atol=1e-5)
    # And by hand: the top-left pixel after resizing, normalised.
    rgb = cv2.cvtColor(cv2.resize(bgr, (16, 32)), cv2.COLOR_BGR2RGB)[0, 0] / 255.0
    np.testing.assert_allclose(ours[0, :, 0, 0].numpy(), (rgb - MEAN) / STD, atol=1e-5)


def _plain(path):
    return build_transform(SIZE, MEAN, STD, train=False)(to_chw_tensor(read_rgb(path, SIZE)))


def test_flip_gives_the_image_or_its_mirror(tmp_path):
    path, _ = _image(tmp_path)
    plain = _plain(path)
    tf = build_transform(SIZE, MEAN, STD, train=True, flip=True, pad=0, random_erasing=0)
    seen = set()
    torch.manual_seed(0)
    for _ in range(20):
        out = tf(to_chw_tensor(read_rgb(path, SIZE)))
        if torch.equal(out, plain):
            seen.add("same")
        elif torch.equal(out, plain.flip(-1)):
            seen.add("mirror")
        else:
            raise AssertionError("flip-only output is neither the image nor its mirror")
    assert seen == {"same", "mirror"}


def test_pad_and_crop_is_a_shifted_window(tmp_path):
    path, _ = _image(tmp_path)
    pad, zero, one = 4, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # identity normalisation: exact zeros
    plain = build_transform(SIZE, zero, one, train=False)(to_chw_tensor(read_rgb(path, SIZE)))
    padded = torch.nn.functional.pad(plain, (pad,) * 4)  # (3, 40, 24) zero-padded
    tf = build_transform(SIZE, zero, one, train=True, flip=False, pad=pad, random_erasing=0)
    torch.manual_seed(1)
    shifts = set()
    for _ in range(10):
        out = tf(to_chw_tensor(read_rgb(path, SIZE)))
        assert out.shape == (3, 32, 16)
        windows = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(padded[:, dy : dy + 32, dx : dx + 16], out)
        ]
        assert windows, "the random crop is not a window of the zero-padded image"
        shifts.add(windows[0])
    assert len(shifts) > 1


def test_random_erasing_sets_a_rectangle_to_the_mean(tmp_path):
    path, _ = _image(tmp_path)
    plain = _plain(path)
    tf = build_transform(SIZE, MEAN, STD, train=True, flip=False, pad=0, random_erasing=1.0)
    torch.manual_seed(2)
    out = tf(to_chw_tensor(read_rgb(path, SIZE)))
    changed = (out != plain).any(0)
    assert changed.any()
    ys, xs = torch.nonzero(changed, as_tuple=True)
    box = out[:, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert torch.all(box == 0)  # 0 after normalisation = the mean colour
    area = box.shape[1] * box.shape[2] / (32 * 16)
    assert 0.02 - 1e-9 <= area <= 0.33 + 1e-9 or changed.sum() < box.shape[1] * box.shape[2]
