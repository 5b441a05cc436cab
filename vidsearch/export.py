"""Result sets as files: JSON, CSV, or a CMX 3600 EDL that editing software imports."""

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


def export(results: list[dict], fmt: str, title: str = "vidsearch") -> tuple[str, str]:
    """(body, media type) of `results` (search moments or clip matches) in `fmt`."""
    if fmt == "json":
        return json.dumps({"results": results}, indent=2), "application/json"
    if fmt == "csv":
        return _csv(results), "text/csv"
    if fmt == "edl":
        return _edl(results, title), "text/plain"
    raise ValueError(f"unknown export format {fmt!r}: use json, csv or edl")


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


def _edl(results: list[dict], title: str) -> str:
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
        record += end - start
    return "\n".join(lines) + "\n"
