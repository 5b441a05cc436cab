"""A video's scenes: the shots between its boundaries, each with the sample that shows it."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable

from vidsearch.media.shots import Boundary
from vidsearch.results import Moment, SceneSpan
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


def scene_at(scenes: list[Scene], second: float) -> int | None:
    """The index of the scene that holds `second` (its last one past the end); None before the first."""
    at = bisect_right([s.start_s for s in scenes], second) - 1
    return at if at >= 0 else None


def scene_thumbnail(video_id: str, scene: Scene, fps: float) -> str:
    return f"/videos/{video_id}/thumbnail?t={scene.frame / fps:.3f}"


def group_by_scene(results: list[Moment], scenes_of: Callable[[str], tuple[list[Scene], float] | None]) -> list[Moment]:
    """One result per scene, best first: the best moment of each (`results` are best first),
    carrying its scene's span and how many moments fell in it. `scenes_of(video_id)` gives a
    video's scenes and sampling rate, or None for a video indexed without shot detection: its
    moments stay one result each."""
    known: dict[str, tuple[list[Scene], float] | None] = {}
    kept: dict[tuple[str, int], Moment] = {}
    grouped: list[Moment] = []
    for result in results:
        vid = result.video_id
        if vid not in known:
            known[vid] = scenes_of(vid)
        at = None if not known[vid] else scene_at(known[vid][0], result.timestamp_s)
        if at is None:
            grouped.append(result)
            continue
        best = kept.get((vid, at))
        if best is not None:
            best.scene.moments += 1
            continue
        scenes, fps = known[vid]
        scene = scenes[at]
        span = SceneSpan(index=at, start_s=scene.start_s, end_s=scene.end_s,
                         thumbnail_url=scene_thumbnail(vid, scene, fps), moments=1)
        kept[vid, at] = best = result.model_copy(update={"scene": span})
        grouped.append(best)
    return grouped


AROUND_S = 2.0  # without shot boundaries, "this scene" is the seconds around the one given


class NoSuchScene(ValueError):
    """The scene or second asked for is not one of the video's."""


def anchor_span(record, scene: int | None, second: float | None) -> tuple[int | None, float, float]:
    """(index, start, end) of the scene of `record` a "more like this" starts from: scene number
    `scene`, or the one that holds `second`. A video indexed without shot detection has no
    numbered scenes: the seconds around `second` stand for one."""
    duration = record.metadata.duration_s if record.metadata else float("inf")
    if second is not None and not 0 <= second <= duration:
        raise NoSuchScene(f"second {second:g} is outside the video (0-{duration:g} s)")
    if not record.scenes:
        if second is None:
            raise NoSuchScene("this video was indexed without shot detection: give a second instead of a scene")
        return None, max(0.0, second - AROUND_S), min(duration, second + AROUND_S)
    if scene is None:
        scene = scene_at(record.scenes, second or 0.0)
    if scene is None or not 0 <= scene < len(record.scenes):
        raise NoSuchScene(f"the video has scenes 0-{len(record.scenes) - 1}, not {scene}")
    found = record.scenes[scene]
    return scene, found.start_s, found.end_s
