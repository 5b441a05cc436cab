"""Result sets as files: JSON, CSV, a CMX 3600 EDL or an OpenTimelineIO timeline, which editing
software imports; and the report of a folder of matched clips in the same formats."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import uuid
from pathlib import Path, PurePath

log = logging.getLogger(__name__)

MOMENT_PAD_S = 2.0  # a search moment becomes an edit of this much either side
EDL_FPS = 25


class ResultSets:
    """The latest result sets, by export id, as files under a folder every replica of the service
    sees (the data dir): an export lands on whichever replica, not only the one that searched."""

    KEEP = 256
    _ID = re.compile(r"[0-9a-f]{16}")

    def __init__(self, root: Path):
        self.root = Path(root)

    def put(self, results: list[dict]) -> str | None:
        """The id to export `results` by; None when they cannot be kept (a full disk): the
        search still answers, without an export."""
        export_id = uuid.uuid4().hex[:16]
        tmp = self.root / f".{export_id}.tmp"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(results))
            tmp.replace(self.root / f"{export_id}.json")  # never half a file under its name
        except OSError as e:
            log.warning("cannot keep results for export in %s: %s", self.root, e.strerror)
            tmp.unlink(missing_ok=True)
            return None
        self._prune()
        return export_id

    def get(self, export_id: str) -> list[dict] | None:
        if not self._ID.fullmatch(export_id):
            return None
        try:
            return json.loads((self.root / f"{export_id}.json").read_text())
        except (OSError, ValueError):
            return None

    def _prune(self) -> None:
        sets = list(self.root.glob("*.json"))
        if len(sets) <= self.KEEP:
            return
        for old in sorted(sets, key=lambda p: p.stat().st_mtime)[: len(sets) - self.KEEP]:
            with contextlib.suppress(OSError):  # another replica pruned it first
                os.unlink(old)


OTIO_MEDIA_TYPE = "application/vnd.opentimelineio+json"
SourceInfo = dict[str, tuple[float, float]]  # video_id -> (frame rate, duration in seconds)


def export(results: list[dict], fmt: str, title: str = "vidsearch", sources: SourceInfo | None = None) -> tuple[str, str]:
    """(body, media type) of `results` (search moments or clip matches) in `fmt`. `sources` gives
    the timelines each source's own frame rate and length."""
    if fmt == "json":
        return json.dumps({"results": results}, indent=2), "application/json"
    if fmt == "csv":
        return _csv(results), "text/csv"
    if fmt == "edl":
        return _edl(results, title), "text/plain"
    if fmt == "otio":
        return _otio_timeline(title, [(r, 0.0) for r in results], sources or {}, in_sequence=True).to_json_string(), \
            OTIO_MEDIA_TYPE
    raise ValueError(f"unknown export format {fmt!r}: use json, csv, edl or otio")


def report_files(outcomes: list, fmt: str, summary: dict, sources: SourceInfo | None = None) -> dict[str, str]:
    """The report of a folder of matched clips (match_jobs.ClipOutcome) as {name suffix: body}:
    one file ("") for CSV, JSON and OTIO (a timeline per matched clip, in one collection), one EDL
    per source ("-<source name>"), each of the clips' ranges of it, in the order of the clips."""
    from vidsearch.match_jobs import REPORT_COLUMNS, report_rows

    if fmt == "json":
        return {"": json.dumps({"summary": summary, "rows": report_rows(outcomes)}, indent=1)}
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(report_rows(outcomes))
        return {"": out.getvalue()}
    if fmt == "otio":
        return {"": _otio_collection(outcomes, sources or {}).to_json_string()}
    if fmt == "edl":
        return _edls(outcomes)
    raise ValueError(f"unknown report format {fmt!r}: use csv, json, edl or otio")


def _edls(outcomes: list) -> dict[str, str]:
    by_source: dict[str, list[dict]] = {}
    for outcome in outcomes:
        for m in outcome.matches:
            item = m.model_dump(mode="json") | {"clip": PurePath(outcome.path).name}
            by_source.setdefault(m.video_id, []).append(item)
    files, taken = {}, set()
    for vid, items in by_source.items():
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(items[0]["path"]).stem) or "source"
        suffix = f"-{stem}" if stem not in taken else f"-{stem}-{vid[:8]}"  # two sources of one name
        taken.add(stem)
        files[suffix] = _edl(items, PurePath(items[0]["path"]).name, clip_names=True)
    return files


def _span(item: dict) -> tuple[float, float]:
    if "source_start_s" in item:
        return item["source_start_s"], item["source_end_s"]
    t = item["timestamp_s"]
    return max(0.0, t - MOMENT_PAD_S), t + MOMENT_PAD_S


def _csv(results: list[dict]) -> str:
    out = io.StringIO()
    columns = sorted({k for r in results for k, v in r.items() if not isinstance(v, (dict, list))})
    writer = csv.DictWriter(out, fieldnames=columns + (["audio_verified"] if any("audio" in r for r in results) else []))
    writer.writeheader()
    for r in results:
        row = {k: r.get(k) for k in columns}
        if "audio" in r:
            row["audio_verified"] = (r["audio"] or {}).get("verified")
        writer.writerow(row)
    return out.getvalue()


def timecode(seconds: float, fps: int = EDL_FPS) -> str:
    frames = round(seconds * fps)
    return f"{frames // (3600 * fps):02d}:{frames // (60 * fps) % 60:02d}:{frames // fps % 60:02d}:{frames % fps:02d}"


def _edl(results: list[dict], title: str, clip_names: bool = False) -> str:
    """Each item an event on the record timeline, one after another. `clip_names`: items are the
    matches of clips (`clip`, their file name), each said where it sits in its clip."""
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    record = 0.0
    for n, item in enumerate(results, start=1):
        start, end = _span(item)
        reel = f"AX{n:03d}"[:8]
        lines.append(
            f"{n:03d}  {reel:<8} V     C        {timecode(start)} {timecode(end)} "
            f"{timecode(record)} {timecode(record + end - start)}"
        )
        lines.append(f"* FROM CLIP NAME: {PurePath(item['path']).name}")
        lines.append(f"* SOURCE FILE: {item['path']}")
        if clip_names:
            lines.append(f"* MATCHED CLIP: {item['clip']} {timecode(item['query_start_s'])}-{timecode(item['query_end_s'])}"
                         f" score {item['score']}")
        record += end - start
    return "\n".join(lines) + "\n"


def _otio_collection(outcomes: list, sources: SourceInfo):
    import opentimelineio as otio

    collection = otio.schema.SerializableCollection(name="vidsearch matches")
    for outcome in outcomes:
        if outcome.matches:
            items = [(m.model_dump(mode="json"), m.query_start_s) for m in outcome.matches]
            timeline = _otio_timeline(PurePath(outcome.path).name, items, sources)
            timeline.metadata["vidsearch"] = {"clip_path": outcome.path, "checksum": outcome.checksum}
            collection.append(timeline)
    return collection


def _otio_timeline(name: str, items: list[tuple[dict, float]], sources: SourceInfo, in_sequence: bool = False):
    """A timeline of `items` ((result, where it starts on the timeline in seconds)): each result's
    range of its source file as a clip. Items that overlap in time (a clip showing two sources at
    once) go on tracks of their own. `in_sequence`: one after another from zero instead."""
    import opentimelineio as otio

    tracks: list[tuple[otio.schema.Track, list[float]]] = []  # (track, [its end in seconds])
    record = 0.0
    for item, at in sorted(items, key=lambda pair: pair[1]) if not in_sequence else items:
        start, end = _span(item)
        speed = item.get("speed") or 1.0
        at = record if in_sequence else at
        length = (end - start) / speed  # seconds of the clip's timeline
        record = at + length
        rate, duration = sources.get(item.get("video_id"), (EDL_FPS, None))
        track = next((t for t in tracks if t[1][0] <= at + 1e-6), None)
        if track is None:
            track = (otio.schema.Track(name=f"V{len(tracks) + 1}", kind=otio.schema.TrackKind.Video), [0.0])
            tracks.append(track)
        if at > track[1][0] + 1e-6:  # nothing of this track's sources shows in between
            track[0].append(otio.schema.Gap(source_range=_range(0.0, at - track[1][0], rate)))
        reference = otio.schema.ExternalReference(
            target_url=_file_url(item["path"]),
            available_range=_range(0.0, duration, rate) if duration else None,
        )
        clip = otio.schema.Clip(name=PurePath(item["path"]).name, media_reference=reference,
                                source_range=_range(start, end - start, rate))
        clip.metadata["vidsearch"] = {k: item.get(k) for k in ("video_id", "score", "flipped", "inset", "speed", "audio")
                                      if k in item}
        if speed != 1.0:  # played faster or slower than the source: the editor's speed effect
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
        track[0].append(clip)
        track[1][0] = max(track[1][0], at + length)
    timeline = otio.schema.Timeline(name=name)
    for track, _ in tracks:
        timeline.tracks.append(track)
    return timeline


def _range(start_s: float, length_s: float, rate: float):
    import opentimelineio as otio

    rate = float(rate or EDL_FPS)
    return otio.opentime.TimeRange(otio.opentime.RationalTime(round(start_s * rate), rate),
                                   otio.opentime.RationalTime(max(1, round(length_s * rate)), rate))


def _file_url(path: str) -> str:
    return Path(path).as_uri() if path.startswith("/") else path
