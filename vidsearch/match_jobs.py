"""Matching a folder of clips: what became of each clip, the results kept between runs, and the
report's rows.

Plain objects; `batch_jobs.match_clips` runs the matching on Ray. A clip's outcome is kept under
its checksum, with the state of the library it was matched against: a run started again (after
a kill, or on a folder that grew) skips the clips already matched against the same library, and
matches the others, or all of them when the library changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from vidsearch.results import Match

log = logging.getLogger(__name__)

REPORT_FORMATS = ("csv", "json", "edl", "otio")
ClipStatus = Literal["matched", "unmatched", "failed"]


class ClipOutcome(BaseModel):
    """One clip of a folder: its sources, none, or why it could not be matched."""

    path: str
    checksum: str | None = None
    status: ClipStatus
    reason: str | None = Field(None, description="why a failed clip was not matched")
    duration_s: float | None = None
    matches: list[Match] = Field(default_factory=list)
    library: str | None = Field(None, description="the library's state it was matched against (library_state)")
    k: int | None = None
    matched_at: float | None = None
    seconds: float | None = Field(None, description="time spent decoding and matching it")

    @classmethod
    def of(cls, path: str, checksum: str, duration_s: float, matches: list[Match], library: str, k: int,
           seconds: float) -> ClipOutcome:
        return cls(path=path, checksum=checksum, status="matched" if matches else "unmatched", duration_s=duration_s,
                   matches=matches, library=library, k=k, matched_at=time.time(), seconds=round(seconds, 3))


class LibraryEmpty(RuntimeError):
    """No complete video to match clips against."""


class BadOutput(ValueError):
    """A report path that cannot be written, or of no known format."""


def library_state(versions: dict[str, float | None]) -> str:
    """A digest of the complete videos and their versions (`store.complete_versions()`): the same
    digest, the same library to match against."""
    text = "\n".join(f"{vid}:{versions[vid]}" for vid in sorted(versions))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def describe_library(records) -> tuple[int, str | None]:
    """(complete videos, a note for the person) of the store's records; LibraryEmpty when there is
    nothing to match against."""
    complete = sum(r.status == "complete" for r in records)
    indexing = sum(r.status == "indexing" for r in records)
    if not complete:
        if indexing:
            raise LibraryEmpty(f"the library is still indexing its first {indexing} videos and has none complete: "
                               "match the clips once `vidsearch index` is done")
        raise LibraryEmpty("the library is empty: index source videos first (`vidsearch index PATH`)")
    note = None
    if indexing:
        note = (f"{indexing} videos are still being indexed: clips are matched against the {complete} complete "
                "ones; run again when indexing is done to match against all of them")
    return complete, note


class MatchLedger:
    """Clip outcomes by checksum, one small JSON file each, under a folder of the data dir. Written
    whole (a kill mid-write leaves the previous file or none), so a run can stop at any point."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _file(self, checksum: str) -> Path:
        return self.root / f"{checksum}.json"

    def get(self, checksum: str | None, library: str, k: int) -> ClipOutcome | None:
        """The kept outcome of a clip of this checksum, matched against this library with as many
        sources asked for; None when there is none."""
        if not checksum:
            return None
        try:
            kept = ClipOutcome.model_validate_json(self._file(checksum).read_text())
        except (OSError, ValidationError):
            return None
        return kept if kept.library == library and kept.k == k and kept.status != "failed" else None

    def put(self, outcome: ClipOutcome) -> None:
        """Keep a matched or unmatched clip's outcome. Failures are not kept: checking a clip
        again costs a probe, and what failed may have been mended."""
        if outcome.status == "failed" or not outcome.checksum:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._file(outcome.checksum)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        try:
            tmp.write_text(outcome.model_dump_json())
            tmp.replace(target)
        except OSError as e:  # the report still has it; only the next run's skip is lost
            log.warning("cannot keep the outcome of %s in %s: %s", outcome.path, self.root, e.strerror)
            tmp.unlink(missing_ok=True)


def check_output(out: Path | None) -> str | None:
    """The report's format, from `out`'s extension, once `out` is known to be writable: checked
    before any work, so that an hour of matching never ends in a report that cannot be written.
    An EDL is one file per source, beside `out` (report_files)."""
    if out is None:
        return None
    if out.is_dir():
        raise BadOutput(f"{out} is a folder: give the report's file name (matches.csv, .json, .edl or .otio)")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in REPORT_FORMATS:
        raise BadOutput(f"cannot tell the report's format from {out.name!r}: end it in .csv, .json, .edl or .otio")
    folder = out.parent
    if not folder.is_dir():
        raise BadOutput(f"cannot write the report to {out}: there is no folder {folder}")
    if out.exists() and not os.access(out, os.W_OK):
        raise BadOutput(f"cannot write the report to {out}: the file is read-only")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".vidsearch-", suffix=".check"):
            pass
    except OSError as e:
        raise BadOutput(f"cannot write the report to {out}: {e.strerror or e}") from None
    return fmt


def report_rows(outcomes: list[ClipOutcome]) -> list[dict]:
    """One row per (clip, source segment), and one for each clip that matched nothing or failed:
    the table of the CSV, of the JSON report and of the page."""
    rows = []
    for outcome in outcomes:
        base = {"clip_path": outcome.path, "status": outcome.status, "reason": outcome.reason}
        if not outcome.matches:
            rows.append(base | dict.fromkeys(MATCH_COLUMNS))
            continue
        for m in outcome.matches:
            audio = m.audio
            rows.append(base | {
                "source_path": m.path, "video_id": m.video_id,
                "clip_start_s": m.query_start_s, "clip_end_s": m.query_end_s,
                "source_start_s": m.source_start_s, "source_end_s": m.source_end_s,
                "score": m.score, "flipped": m.flipped, "inset": m.inset,
                "crop": None if m.crop is None else f"{m.crop.x},{m.crop.y},{m.crop.width},{m.crop.height}",
                "speed": m.speed,
                "audio_verified": None if audio is None else audio.verified,
                "audio_offset_s": None if audio is None else audio.offset_s,
            })
    return rows


MATCH_COLUMNS = (
    "source_path", "video_id", "clip_start_s", "clip_end_s", "source_start_s", "source_end_s", "score", "flipped",
    "inset", "crop", "speed", "audio_verified", "audio_offset_s",
)
REPORT_COLUMNS = ("clip_path", "status", "reason", *MATCH_COLUMNS)


def summary_counts(outcomes: list[ClipOutcome]) -> dict:
    return {
        "clips": len(outcomes),
        "matched": sum(o.status == "matched" for o in outcomes),
        "unmatched": sum(o.status == "unmatched" for o in outcomes),
        "failed": [{"path": o.path, "reason": o.reason} for o in outcomes if o.status == "failed"],
    }


def source_info(store, video_ids) -> dict[str, tuple[float, float]]:
    """Each source's frame rate and length, for timelines in the source's own frames."""
    info = {}
    for vid in video_ids:
        record = store.get_video(vid)
        if record is not None and record.metadata is not None:
            info[vid] = (record.metadata.fps, record.metadata.duration_s)
    return info


def write_json(path: Path, data: dict) -> None:
    """Replace `path` whole with `data` as JSON."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
