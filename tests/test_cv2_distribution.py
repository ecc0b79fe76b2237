"""The environment imports the one OpenCV the project depends on (opencv-contrib-python-headless).

opencv-python 5.x dropped `cv2.HOGDescriptor` (the no-download people detector), and packages such as
trackeval still require opencv-python; both wheels install the same `cv2` folder, so whichever was
written last is the one imported. The README's test command reinstalls the contrib wheel last; this
test fails if an environment ends up importing the other one.
"""

from __future__ import annotations

from importlib import metadata

import cv2
import numpy as np


def test_cv2_keeps_the_hog_people_detector():
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(np.zeros((128, 64, 3), np.uint8))
    assert len(rects) == len(weights)


def test_the_contrib_headless_wheel_is_installed():
    assert metadata.version("opencv-contrib-python-headless")
