"""The cache helper: stable keys, files and folders built once and moved into place atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from vidlab.utils.cache import COMPLETE_MARKER, cache_key, cached_file, cached_folder, is_complete


def test_cache_key_is_the_sha1_of_sorted_json_and_ignores_key_order():
    params = {"seed": 0, "noise": {"jitter": 0.04}, "pan": [2.0, 0.0]}
    expected = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()
    assert cache_key(params) == expected[:12]
    assert cache_key(params, 16) == expected[:16]
    assert cache_key(dict(reversed(list(params.items())))) == cache_key(params)
    assert cache_key({**params, "seed": 1}) != cache_key(params)
    assert cache_key({"root": Path("/a")}) == cache_key({"root": "/a"})  # str() for non-JSON values
    with pytest.raises(ValueError, match="length=0"):
        cache_key(params, 0)


def test_cached_file_builds_once_and_rebuilds_an_invalid_file(tmp_path):
    calls = []

    def build(tmp: Path) -> None:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and not tmp.exists()
        calls.append(tmp)
        tmp.write_text("v1")

    path = tmp_path / "a.txt"
    assert cached_file(path, build) == path and path.read_text() == "v1"
    assert cached_file(path, build) == path and len(calls) == 1  # reused
    path.write_text("corrupt")
    cached_file(path, build, valid=lambda p: p.read_text() == "v1")
    assert path.read_text() == "v1" and len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporary file left


def test_cached_file_leaves_nothing_when_the_build_fails(tmp_path):
    def build(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cached_file(tmp_path / "a.npy", build)
    assert list(tmp_path.iterdir()) == []


def test_cached_folder_marks_builds_once_and_replaces_an_incomplete_folder(tmp_path):
    calls = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "data.txt").write_text("x")

    folder = tmp_path / "cache" / "key"
    folder.mkdir(parents=True)
    (folder / "partial.txt").write_text("left by an interrupted run")
    assert cached_folder(folder, build, stamp={"seed": 3}) == folder
    assert json.loads((folder / COMPLETE_MARKER).read_text()) == {"seed": 3}
    assert sorted(p.name for p in folder.iterdir()) == [COMPLETE_MARKER, "data.txt"]
    cached_folder(folder, build)
    assert len(calls) == 1 and is_complete(folder)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["key"]


def test_cached_folder_with_a_marker_the_builder_writes(tmp_path):
    def build(tmp: Path) -> None:
        (tmp / "market").mkdir()
        (tmp / "market" / "manifest.json").write_text("{}")

    folder = cached_folder(tmp_path / "k", build, marker="market/manifest.json")
    assert not (folder / COMPLETE_MARKER).exists() and is_complete(folder, "market/manifest.json")

    def failing(tmp: Path) -> None:
        (tmp / "x").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cached_folder(tmp_path / "other", failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]
