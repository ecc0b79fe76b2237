"""Evaluation code independent of training, one subpackage per task family.

`vidlab.evaluation.mot`: MOTChallenge files and HOTA / CLEAR / Identity tracking metrics (TrackEval
parity). Importing this package imports nothing heavy; each subpackage documents its own needs.
"""
