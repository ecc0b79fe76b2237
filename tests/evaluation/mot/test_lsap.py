"""The Hungarian solver is scipy's own, loaded without importing all of scipy.optimize."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from vidlab.evaluation.mot._lsap import linear_sum_assignment

CHECK = """
import sys
from vidlab.evaluation.mot.evaluate import evaluate_folder
print("scipy.optimize loaded:", "scipy.optimize" in sys.modules)
from vidlab.evaluation.mot import _lsap
import scipy.optimize
print("same function:", _lsap.linear_sum_assignment is scipy.optimize.linear_sum_assignment)
"""


def test_solver_is_scipys_and_scipy_optimize_stays_unloaded() -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert "scipy.optimize loaded: False" in proc.stdout
    assert "same function: True" in proc.stdout


def test_solver_solves_an_assignment() -> None:
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols = linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == 5.0  # 1 + 2 + 2
    rows, cols = linear_sum_assignment(cost, maximize=True)
    assert cost[rows, cols].sum() == 11.0  # 4 + 5 + 2
