"""Temporal action localization with a window classifier: dense sliding windows streamed through a
classifier bundle (`windows`), per-window scores turned into scored segments (`segments`), and a
timeline plot per video (`plots`). `python evaluate.py task=localize` drives them."""
