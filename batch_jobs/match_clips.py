"""Match a folder of clips against the library: which source each clip was cut from, where, and
whether the audio agrees, for hundreds of clips at once, with a report at the end.

    python -m batch_jobs.match_clips PATH... [--out matches.csv|.json|.edl|.otio] [--force] [--json]

Runs on the Ray cluster named by RAY_ADDRESS (so `ray job submit` works), else on a local Ray.
Stages, all streaming: discover -> checksum + probe (tasks) -> skip clips matched before against
the same library -> decode + copy vectors + audio fingerprint (one task per clip, in parallel) ->
match in batches (actors, each holding the copy index once) + audio verification -> the report.
The objects are /match's own: the same clip reading, matching and verification, the same answers.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Callable, Optional

from batch_jobs.index_videos import EXIT_ERROR, EXIT_FAILED_FILES, EXIT_INTERRUPTED, _inspect, _leave_ray, _quiet_ray_data

import typer  # after index_videos, which says what to do where the job's Python lacks it
from vidsearch.config import ConfigError, Settings, load_settings
from vidsearch.match_jobs import BadOutput, ClipOutcome, LibraryEmpty

log = logging.getLogger(__name__)


@dataclass
class MatchSummary:
    clips: int = 0
    matched: int = 0
    unmatched: int = 0
    failed: list[dict] = field(default_factory=list)  # {"path", "reason"}
    skipped: int = 0  # matched before, against the same library: read from the kept results
    library_videos: int = 0
    note: str | None = None  # e.g. videos still being indexed
    clip_seconds: float = 0.0  # of the clips decoded and matched in this run
    wall_s: float = 0.0
    report: list[str] = field(default_factory=list)  # files written

    def as_json(self) -> dict:
        out = dict(self.__dict__)
        done = self.clips - self.skipped
        out["clips_per_s"] = round(done / self.wall_s, 2) if self.wall_s else 0.0
        out["clip_seconds"] = round(self.clip_seconds, 3)
        out["wall_s"] = round(self.wall_s, 3)
        return out


def run_match(
    paths: list[str], settings: Settings, out: Path | None = None, force: bool = False, show_progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[MatchSummary, list[ClipOutcome]]:
    """Match every clip under `paths`; write the report to `out` (its format by its extension).
    `on_progress(done, total)` follows the clips as they finish."""
    from batch_jobs.cluster import cluster_store, connect_ray
    from vidsearch.embedders.descriptors import load_descriptor
    from vidsearch.match_jobs import MatchLedger, check_output, describe_library, library_state
    from vidsearch.media.files import discover

    started = time.perf_counter()
    fmt = check_output(out)  # before any work
    summary = MatchSummary()
    candidates = [c for p in paths for c in discover([p])]
    connect_ray()
    _quiet_ray_data()
    store = cluster_store(settings)
    store.check_copy_size(load_descriptor(settings.descriptor).dim, settings.descriptor.model)  # before any clip
    summary.library_videos, summary.note = describe_library(store.list_videos())
    library, k = library_state(store.complete_versions()), settings.match.k
    ledger = MatchLedger(settings.data_dir / "clip-matches")
    outcomes: dict[str, ClipOutcome] = {}
    to_match = []
    for item in _inspect(candidates):
        kept = None if force else ledger.get(item.checksum, library, k)
        if item.error:
            outcomes[item.path] = ClipOutcome(path=item.path, checksum=item.checksum, status="failed", reason=item.error)
        elif item.metadata.duration_s > settings.serve.max_clip_s:
            reason = (f"the clip is {item.metadata.duration_s:.0f} s long; clips of at most "
                      f"{settings.serve.max_clip_s:.0f} s are matched (serve.max_clip_s)")
            outcomes[item.path] = ClipOutcome(path=item.path, checksum=item.checksum, status="failed", reason=reason)
        elif kept is not None:
            outcomes[item.path] = kept.model_copy(update={"path": item.path})  # the same clip, maybe renamed
            summary.skipped += 1
        else:
            to_match.append(item)
    total = len(outcomes) + len(to_match)
    bar = _progress_bar(show_progress, total, len(outcomes))
    if on_progress:
        on_progress(len(outcomes), total)
    if to_match:
        for outcome in _pipeline(to_match, settings, library):
            ledger.put(outcome)
            outcomes[outcome.path] = outcome
            if outcome.status != "failed":
                summary.clip_seconds += outcome.duration_s or 0.0
            bar.update(1)
            if on_progress:
                on_progress(len(outcomes), total)
    bar.close()
    ordered = [outcomes[p] for p in sorted(outcomes)]
    summarise(ordered, summary)
    summary.wall_s = time.perf_counter() - started
    if out is not None:
        summary.report = [str(out)] if fmt != "edl" else []  # the summary the report holds names it
        summary.report = write_report(ordered, out, fmt, summary, store)
        summary.wall_s = time.perf_counter() - started
    return summary, ordered


def _pipeline(items, settings: Settings, library: str):
    """Outcomes of `items` (inspected clips) as they are matched."""
    import ray

    from batch_jobs.index_videos import _local_free_cpus, fit_reservations
    from batch_jobs.stages import ClipMatcher, describe_clip

    job = settings.match
    decode_cpus, match_cpus = fit_reservations(job.decode_num_cpus, job.match_num_cpus, *_local_free_cpus())
    plain = settings.model_dump_json()
    ds = ray.data.from_items([{"path": i.path, "checksum": i.checksum or ""} for i in items],
                             override_num_blocks=len(items))
    # One task per clip: clips decode in parallel, on every node; SPREAD also keeps Ray Data from
    # fusing decoding into the matcher actors, which would serialise it behind matching.
    ds = ds.map(describe_clip, fn_kwargs={"settings_json": plain}, num_cpus=decode_cpus,
                concurrency=job.decode_concurrency, scheduling_strategy="SPREAD")
    ds = ds.map_batches(
        ClipMatcher,
        fn_constructor_kwargs={"settings_json": plain, "k": job.k, "library": library},
        batch_size=job.batch_size,
        concurrency=job.match_concurrency,
        num_cpus=match_cpus,
        scheduling_strategy="DEFAULT",
    )
    for row in ds.iter_rows():
        yield ClipOutcome.model_validate_json(row["outcome"])


def summarise(outcomes: list[ClipOutcome], summary: MatchSummary) -> None:
    from vidsearch.match_jobs import summary_counts

    counts = summary_counts(outcomes)
    summary.clips, summary.matched, summary.unmatched = counts["clips"], counts["matched"], counts["unmatched"]
    summary.failed = counts["failed"]


def write_report(outcomes: list[ClipOutcome], out: Path, fmt: str, summary: MatchSummary, store) -> list[str]:
    """Write the report as `fmt`; an EDL is one file per source beside `out`. The files written."""
    from vidsearch.export import report_files
    from vidsearch.match_jobs import source_info

    sources = source_info(store, {m.video_id for o in outcomes for m in o.matches}) if fmt == "otio" else None
    files = report_files(outcomes, fmt, summary.as_json(), sources)
    written = []
    for suffix, body in files.items():
        target = out.with_name(f"{out.stem}{suffix}{out.suffix}")
        target.write_text(body)
        written.append(str(target))
    return written


def _progress_bar(enabled: bool, total: int, done: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="clip", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def print_summary(summary: MatchSummary, as_json: bool) -> None:
    if summary.note:
        typer.echo(f"note: {summary.note}", err=True)
    if as_json:
        typer.echo(json.dumps(summary.as_json()))
        return
    s = summary.as_json()
    typer.echo(
        f"{summary.clips} clips against {summary.library_videos} videos: matched {summary.matched}, "
        f"unmatched {summary.unmatched}, failed {len(summary.failed)}"
        + (f" ({summary.skipped} matched before against this library, kept)" if summary.skipped else "")
        + f"; {summary.clip_seconds:.0f} s of clips in {summary.wall_s:.1f} s ({s['clips_per_s']} clips/s)"
    )
    for item in summary.failed:
        typer.echo(f"  failed: {item['path']}: {item['reason']}")
    for path in summary.report:
        typer.echo(f"report: {path}")


def match_all_command(
    paths: Annotated[list[str], typer.Argument(help="clips, or folders of clips (searched recursively)")],
    out: Annotated[Optional[Path], typer.Option("--out", help="the report: .csv, .json, .edl (one per source) or .otio")] = None,
    force: Annotated[bool, typer.Option("--force", help="match again clips matched before against this library")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="where the embedded store lives")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
) -> None:
    """Match every clip under PATH against the library and report each clip's sources."""
    from vidsearch.embedders.descriptors import DescriptorUnavailable
    from vidsearch.match_jobs import check_output
    from vidsearch.store.errors import StoreError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(config, data_dir=data_dir)
        check_output(out)  # before Ray starts: a bad path is said at once
        summary, _ = run_match(paths, settings, out, force, show_progress=not as_json or sys.stderr.isatty())
    except (ConfigError, StoreError, FileNotFoundError, BadOutput, LibraryEmpty, DescriptorUnavailable) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        import ray

        ray.shutdown()
        typer.echo("interrupted: clips matched so far are kept; the next run matches the rest", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_summary(summary, as_json)
    _leave_ray()
    raise typer.Exit(EXIT_FAILED_FILES if summary.failed else 0)


def main() -> None:
    typer.run(match_all_command)


if __name__ == "__main__":
    main()
