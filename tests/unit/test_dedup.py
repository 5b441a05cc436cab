import numpy as np

from vidsearch.media.dedup import SceneFilter, dhash


def test_near_identical_frames_are_dropped_changes_kept():
    rng = np.random.default_rng(1)
    shot_a = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    noisy_a = np.clip(shot_a.astype(int) + rng.integers(-3, 4, shot_a.shape), 0, 255).astype(np.uint8)
    shot_b = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    scenes = SceneFilter(max_distance=4)
    assert [scenes.keep(f) for f in (shot_a, noisy_a, shot_a, shot_b, shot_b)] == [True, False, False, True, False]
    assert (dhash(shot_a) ^ dhash(shot_b)).bit_count() > 10
