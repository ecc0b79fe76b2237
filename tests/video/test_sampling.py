"""The adaptive sampler: sparse on static shots, dense where things move or change, bounded."""

from __future__ import annotations

import math

import pytest

from vidlab.data.synthetic.shots import ShotVideoSpec, write_shot_video
from vidlab.errors import UserError
from vidlab.video.sampling import SamplerSettings, sampled_indices

# Static shots (0, 2, 4, 6 for seed 3) and moving ones, joined by cuts and fades.
SPEC = ShotVideoSpec(
    num_shots=8, shot_frames=(40, 60), fade_prob=0.4, fade_frames=(6, 12), width=160,
    height=90, static_prob=0.6, noise=1.0, seed=3,
)  # fmt: skip


def test_adaptive_sampling_is_dense_at_changes_sparse_when_static(tmp_path, spawn_pool) -> None:
    video = tmp_path / "v.mp4"
    truth = spawn_pool.submit(write_shot_video, video, SPEC).result()
    stride = 10
    adaptive, stats = spawn_pool.submit(
        sampled_indices, video, SamplerSettings(stride=stride, max_side=80)
    ).result()
    uniform, ustats = spawn_pool.submit(
        sampled_indices, video, SamplerSettings(mode="uniform", stride=stride, max_side=80)
    ).result()
    n = truth.num_frames
    assert stats.decoded == ustats.decoded == n
    assert uniform == list(range(0, n, stride)) and stats.uniform_stride_frames == math.ceil(
        n / stride
    )
    assert adaptive == sorted(set(adaptive)) and adaptive[0] == 0 and adaptive[-1] == n - 1
    assert stats.analysed == len(adaptive) < n
    chosen = set(adaptive)
    for b in truth.boundaries:  # both sides of every transition are analysed
        assert {b - 1, b} <= chosen
    for shot in truth.shots:
        inside = [i for i in adaptive if shot.start + shot.fade_in + stride <= i]
        inside = [i for i in inside if i < shot.end - shot.fade_out - stride]
        span = shot.end - shot.fade_out - shot.start - shot.fade_in - 2 * stride
        if shot.static and span > 0:  # probes only, well inside a static shot
            assert len(inside) <= span // stride + 1
        elif span > 0:  # every frame of a moving shot
            assert len(inside) == span
    assert stats.static_intervals > 0 and stats.dense_intervals > 0


def test_sampler_settings_are_checked() -> None:
    with pytest.raises(UserError, match="sampler.mode"):
        SamplerSettings(mode="sometimes")
    with pytest.raises(UserError, match="stride"):
        SamplerSettings(stride=0)
