"""Track tube crops: the square window with a context margin, the resize, the flat fill outside."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.tubes import FILL, crop_tube, tube_windows


def test_windows_are_squares_around_the_box_with_the_margin_of_its_longer_side():
    boxes = np.array([[10.0, 20.0, 30.0, 80.0], [0.0, 0.0, 40.0, 10.0]])  # tall, wide
    win = tube_windows(boxes, margin=0.25)
    np.testing.assert_allclose(win[0], [20 - 45, 50 - 45, 90, 90])
    np.testing.assert_allclose(win[1], [20 - 30, 5 - 30, 60, 60])
    with pytest.raises(ValueError, match="margin"):
        tube_windows(boxes, margin=-0.1)


def test_the_crop_holds_the_box_in_its_middle_two_thirds():
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:110, 100:160] = (200, 10, 10)  # a 60 x 60 box
    crop = crop_tube(image, np.array([100.0, 50.0, 160.0, 110.0]), 30, margin=0.25)
    assert crop.shape == (30, 30, 3) and crop.dtype == np.uint8
    # window side 90 px -> 1/3 px per output px; the box covers output pixels 5..24
    assert (crop[6:24, 6:24] == (200, 10, 10)).all()
    assert (crop[:4] == 0).all() and (crop[:, 26:] == 0).all()


def test_outside_the_image_is_flat_grey_and_an_offset_image_gives_the_same_crop():
    image = np.random.default_rng(0).integers(0, 255, (100, 100, 3), np.uint8)
    corner = crop_tube(image, np.array([-20.0, -20.0, 20.0, 20.0]), 24, margin=0.0)
    assert (corner[:10, :10] == FILL).all()  # the window's top-left quarter is outside
    assert not (corner[14:, 14:] == FILL).all()
    box = np.array([40.0, 30.0, 60.0, 70.0])
    whole = crop_tube(image, box, 16)
    part = crop_tube(image[10:90, 20:90], box, 16, offset=(20, 10))
    np.testing.assert_array_equal(whole, part)
    with pytest.raises(ValueError, match="size"):
        crop_tube(image, box, 0)
