"""A video's scenes: the shots between its boundaries, each with the sample that shows it."""

from __future__ import annotations

import json

from vidsearch.media.shots import Boundary
from vidsearch.store.records import Scene


def encode_cuts(boundaries: list[Boundary]) -> str:
    """Boundaries as a decode part's last row carries them to the writer."""
    return json.dumps([[round(b.second, 3), b.kind, round(b.score, 3)] for b in boundaries])


def parse_cuts(encoded: str) -> list[tuple[float, str]]:
    """(second, kind) of the boundaries `encode_cuts` carried; "" when a row carries none."""
    return [(float(second), str(kind)) for second, kind, _score in json.loads(encoded)] if encoded else []


def scenes_from(boundaries: list[tuple[float, str]], duration_s: float, fps: float, frames: int) -> list[Scene]:
    """Scenes from the boundaries of a whole video; each is shown by the sample nearest its middle."""
    found = sorted((s, k) for s, k in boundaries if 0 < s < duration_s)
    starts = [(0.0, "start"), *found]
    scenes = []
    for i, (start, kind) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else duration_s
        if end <= start:
            continue
        frame = min(max(0, frames - 1), max(0, round((start + end) / 2 * fps)))
        scenes.append(Scene(start_s=round(start, 3), end_s=round(end, 3), frame=frame, opens_with=kind))
    return scenes
