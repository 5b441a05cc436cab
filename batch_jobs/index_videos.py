"""The bulk indexing job: a folder (or URIs) of videos becomes frame points in Qdrant.

    python -m batch_jobs.index_videos PATH... [--config FILE] [--data-dir DIR] [--json]

Runs on the Ray cluster named by RAY_ADDRESS (so `ray job submit --working-dir . -- python -m
batch_jobs.index_videos /mnt/videos` works), else on a local Ray. Stages, all streaming:
discover -> checksum + probe -> plan against the store -> decode + copy vectors + thumbnails + audio
fingerprint (one task per video) -> semantic embedding (actor pool, GPU-sized batches) -> writer.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

try:
    import typer
except ModuleNotFoundError as e:  # `ray job submit` to a head whose PATH finds another Python
    raise SystemExit(
        f"{sys.executable} has no {e.name}: run this job with the Python vidsearch is installed in. Start the "
        "local cluster with `make cluster`, or submit `-- /path/to/.venv/bin/python -m batch_jobs.index_videos ...`"
    ) from None

from vidsearch.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

EXIT_FAILED_FILES = 3
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


@dataclass
class IndexSummary:
    indexed: int = 0
    skipped: int = 0
    moved: int = 0
    removed: int = 0
    failed: list[dict] = field(default_factory=list)  # {"path", "reason"}
    frames: int = 0
    video_seconds: float = 0.0
    wall_s: float = 0.0
    semantic_model: str | None = None
    semantic_missing: str | None = None
    speech_model: str | None = None
    speech_missing: str | None = None
    texts: dict = field(default_factory=lambda: {"speech": 0, "subtitles": 0, "segments": 0, "failed": []})
    copies_checked: int = 0  # complete videos of earlier runs whose copies were looked for
    semantic_runtime: str | None = None  # e.g. "onnx int8"; a tower whose export failed says so in the log
    busy_s: dict = field(default_factory=dict)  # stage -> seconds its workers were busy, summed

    def as_json(self) -> dict:
        out = dict(self.__dict__)
        out["frames_per_s"] = round(self.frames / self.wall_s, 1) if self.wall_s else 0.0
        out["video_seconds"] = round(self.video_seconds, 3)
        out["wall_s"] = round(self.wall_s, 3)
        # Frames per second of one worker's busy time: the stage that reads lowest bounds the job
        # when it has one worker; decoding runs several.
        out["stages"] = {
            stage: {"busy_s": round(busy, 2), "frames_per_s": round(self.frames / busy, 1) if busy else None}
            for stage, busy in self.busy_s.items()
        }
        del out["busy_s"]
        return out


def run_index(paths: list[str], settings: Settings, show_progress: bool = True) -> IndexSummary:
    """Index `paths` on the Ray cluster: the steps below, in order; only `_inspect` and
    `_pipeline` need Ray, the others are plain functions over the store."""
    from batch_jobs.cluster import cluster_store, connect_ray
    from vidsearch.media.files import discover
    from vidsearch.media.thumbnails import ThumbnailStore
    from vidsearch.embedders.descriptors import descriptor_version, load_descriptor
    from vidsearch.plan import make_plan

    started = time.perf_counter()
    summary = IndexSummary()
    candidates = [c for p in paths for c in discover([p])]
    connect_ray()
    _quiet_ray_data()
    settings, model_dir, image_size = resolve_semantic(settings, summary)
    store = cluster_store(settings)
    if model_dir is not None:
        store.check_semantic_size(settings.semantic.dim, settings.semantic.model)
    # Copy vectors are what every video needs: a learned descriptor that cannot load stops the run here.
    store.check_copy_size(load_descriptor(settings.descriptor).dim, settings.descriptor.model)
    thumbnails = ThumbnailStore(settings.thumbnails_dir, settings.sampling.fps, settings.min_free_mb)
    inspected = _inspect(candidates)
    plan = make_plan(inspected, store, summary.semantic_model, settings.sampling.fps, settings.scenes.enabled,
                     descriptor_version(settings.descriptor))
    apply_plan(plan, store, thumbnails, summary)
    if plan.to_index:
        writer = make_writer(plan, store, thumbnails, settings, summary.semantic_model)
        batches = _pipeline(plan, settings, model_dir, image_size)
        bar = _progress_bar(show_progress, len(plan.to_index), writer.frames_expected)
        write_all(batches, writer, bar, summary.busy_s)
        summarise(plan, writer, summary)
    index_texts(store, settings, [i.video_id for i in inspected if i.video_id], summary)
    if settings.copies.enabled:
        from vidsearch.duplicates import look_for_copies

        from vidsearch.embedders.descriptors import alignment_for

        summary.copies_checked = look_for_copies(store, settings.sampling.fps, alignment_for(settings.descriptor))
    if plan.to_index:
        store.optimize()  # index what was written, once, rather than after every batch
    summary.wall_s = time.perf_counter() - started
    return summary


def _quiet_ray_data() -> None:
    import ray

    # The job prints its own progress and summary; Ray Data's per-dataset logs would bury them.
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # Rows are small (a thumbnail and a few vectors): with the default 128 MiB blocks a whole
    # video would pile up in its task before the writer saw any of it.
    context.target_max_block_size = 2 * 2**20
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def resolve_semantic(settings: Settings, summary: IndexSummary):
    """(settings sized for the model, model dir, image size), or no model with the reason noted."""
    from vidsearch.embedders.runtimes import choose
    from vidsearch.embedders.semantic import ModelUnavailable, model_image_size, model_vector_size, resolve_model

    if not settings.semantic.enabled:
        return settings, None, None
    try:
        model_dir = resolve_model(settings.semantic.model, settings.semantic.revision)
        image_size = model_image_size(model_dir)
    except ModelUnavailable as e:
        summary.semantic_missing = f"{e} This run indexed copy vectors, thumbnails, audio and text only."
        return settings, None, None
    # A new store is sized for the model; without one, semantic.dim decides.
    semantic = settings.semantic.model_copy(update={"dim": model_vector_size(model_dir)})
    summary.semantic_model = settings.semantic.model
    summary.semantic_runtime = " ".join(choose(semantic.runtime, semantic.precision, _device_type(settings)))
    return settings.model_copy(update={"semantic": semantic}), model_dir, image_size


def _device_type(settings: Settings) -> str:
    """The device the embed actors run on: `auto` is a GPU where they are given one."""
    from vidsearch.embedders.runtimes import device_for

    semantic = settings.semantic
    return device_for(semantic.device, semantic.runtime, settings.job.embed_num_gpus > 0).split(":")[0]


def _inspect(candidates) -> list:
    """Checksum and probe every discovered file, in parallel on the cluster."""
    import ray

    from batch_jobs.stages import inspect_file
    from vidsearch.media.probe import VideoMetadata
    from vidsearch.plan import Inspected

    if not candidates:
        return []
    rows = (
        ray.data.from_items(
            [{"path": c.path, "size_bytes": c.size_bytes} for c in candidates],
            override_num_blocks=min(len(candidates), 256),
        )
        .map(inspect_file)
        .take_all()
    )
    inspected = [
        Inspected(
            row["path"], row["size_bytes"], row["checksum"] or None,
            VideoMetadata.model_validate_json(row["metadata"]) if row["metadata"] else None,
            row["error"] or None,
        )
        for row in rows
    ]
    return sorted(inspected, key=lambda i: i.path)


def apply_plan(plan, store, thumbnails, summary: IndexSummary) -> None:
    """What the plan decides before decoding: drop stale videos, follow moves, record failures,
    and write an `indexing` record (with no leftover frames) for each video to index."""
    from vidsearch.store.records import VideoRecord

    for vid in plan.stale:
        store.delete_video(vid)
        thumbnails.delete(vid)
    for vid, new_path in plan.moved:
        store.move_video(vid, new_path)
    for item in plan.failed:
        if item.video_id:
            store.put_video(
                VideoRecord(
                    video_id=item.video_id, path=item.path, checksum=item.checksum,
                    size_bytes=item.size_bytes, status="failed", error=item.error,
                )
            )
        summary.failed.append({"path": item.path, "reason": item.error})
    for record in plan.records:
        store.delete_frames(record.video_id)  # leftovers of an interrupted or outdated run
        thumbnails.delete(record.video_id)  # ...and their thumbnails, maybe at another rate
        store.delete_texts(record.video_id)  # its text is read again after its frames
        store.put_video(record)
    summary.skipped, summary.moved, summary.removed = len(plan.skipped), len(plan.moved), len(plan.stale)


def make_writer(plan, store, thumbnails, settings: Settings, semantic_model: str | None):
    from vidsearch.frame_batches import frame_count
    from vidsearch.writer import IndexWriter

    fps = settings.sampling.fps
    videos = {r.video_id: (r.frame_payload(), frame_count(r.metadata, fps)) for r in plan.records}
    from vidsearch.embedders.descriptors import alignment_for

    return IndexWriter(store, thumbnails, videos, semantic_model, fps, settings.scenes.enabled, settings.copies.enabled,
                       alignment_for(settings.descriptor))


def _pipeline(plan, settings: Settings, model_dir, image_size):
    """The streaming dataset of frame batches: decode segments in tasks, embed on actors."""
    import ray

    from batch_jobs.stages import SemanticStage, decode_segments
    from vidsearch.frame_batches import segments

    job = settings.job
    embed_cpus = job.embed_num_cpus if job.embed_num_cpus is not None else (0 if job.embed_num_gpus else 1)
    decode_cpus, embed_cpus = fit_reservations(
        job.decode_num_cpus, embed_cpus if model_dir is not None else 0.0, *_local_free_cpus()
    )
    parts = [seg for t in plan.to_index for seg in segments(t, settings.sampling.fps, settings.sampling.segment_s)]
    ds = ray.data.from_items(
        [
            {"video_id": p.video_id, "path": p.path, "metadata": p.metadata.model_dump_json(), "first": p.first, "end": p.end}
            for p in parts
        ],
        override_num_blocks=len(parts),
    )
    ds = ds.map_batches(
        decode_segments,
        batch_size=1,
        fn_kwargs={"settings": settings, "image_size": image_size},
        num_cpus=decode_cpus,
        concurrency=job.decode_concurrency,
        # Spread decoding over nodes; the differing strategy also keeps Ray Data from fusing
        # decoding into the embedder actors, which would serialise it behind the model.
        scheduling_strategy="SPREAD",
    )
    if model_dir is not None:
        ds = ds.map_batches(
            SemanticStage,
            fn_constructor_kwargs={
                "model_dir": str(model_dir),
                "device": settings.semantic.device,
                "runtime": settings.semantic.runtime,
                "precision": settings.semantic.precision,
                "cpu_threads": settings.semantic.cpu_threads,
                "actors": job.embed_concurrency,
            },
            batch_size=job.embed_batch_size,
            concurrency=job.embed_concurrency,
            num_gpus=job.embed_num_gpus,
            num_cpus=embed_cpus,
            scheduling_strategy="DEFAULT",
        )
    return ds.iter_batches(batch_size=job.write_batch_size, batch_format="numpy", prefetch_batches=2)


def resolve_speech(settings: Settings, summary: IndexSummary):
    """The speech model to transcribe with, or None with the reason noted."""
    from vidsearch.text.speech import SpeechModelUnavailable, resolve_speech_model

    if not settings.speech.enabled:
        return None
    try:
        model = resolve_speech_model(settings.speech.model)
    except SpeechModelUnavailable as e:
        summary.speech_missing = str(e)
        return None
    summary.speech_model = model.name
    return model


def index_texts(store, settings: Settings, video_ids: list[str], summary: IndexSummary) -> None:
    """Subtitles and speech of the run's complete videos, where not read already: a Ray Data
    stage on an actor pool (the speech model loads once per actor), results written as they come."""
    from vidsearch.text.tasks import plan_texts, write_results

    records = {r.video_id: r for r in (store.get_video(v) for v in dict.fromkeys(video_ids)) if r is not None}
    model = resolve_speech(settings, summary)
    tasks = plan_texts(list(records.values()), settings, model.name if model else None)
    if not tasks:
        return
    for task, results in _text_pipeline(tasks, settings, model):
        write_results(store, records[task.video_id], results, task.gone)
        for r in results:
            if r.error:
                summary.texts["failed"].append({"path": task.path, "source": r.origin, "reason": r.error})
                continue
            summary.texts["speech" if r.origin == "speech" else "subtitles"] += 1
            summary.texts["segments"] += len(r.segments)


def _text_pipeline(tasks, settings: Settings, model):
    import pickle

    import ray

    from batch_jobs.stages import TextStage

    job = settings.job
    speech = any(t.speech for t in tasks) and model is not None
    ds = ray.data.from_items([{"task": pickle.dumps(t)} for t in tasks], override_num_blocks=len(tasks))
    ds = ds.map_batches(
        TextStage,
        fn_constructor_kwargs={
            "settings_json": settings.model_dump_json(),
            "speech_model": (model.name, str(model.path)) if model else None,
        },
        batch_size=1,
        concurrency=job.speech_concurrency if speech else 1,
        num_cpus=job.speech_num_cpus if speech else 0.25,
        num_gpus=job.speech_num_gpus if speech else 0,
    )
    for row in ds.iter_rows():
        yield pickle.loads(row["result"])


def write_all(batches, writer, bar=lambda done, written: None, busy_s: dict | None = None) -> None:
    """Write every batch; a video the stream ended without finishing is failed, not left open.
    `busy_s` gathers each stage's busy seconds, from the batches' timing columns and the writes."""
    busy_s = {} if busy_s is None else busy_s
    for batch in batches:
        for column in ("decode_s", "embed_s"):
            if column in batch:
                busy_s[column[:-2]] = busy_s.get(column[:-2], 0.0) + float(batch[column].sum())
        started = time.perf_counter()
        writer.write(batch)
        busy_s["write"] = busy_s.get("write", 0.0) + time.perf_counter() - started
        bar(len(writer.result.complete) + len(writer.result.failed), writer.frames_written)
    bar(None, None)
    for vid in writer.unfinished():
        writer.fail(vid, "the pipeline ended before all frames were written")


def summarise(plan, writer, summary: IndexSummary) -> None:
    by_id = {t.video_id: t for t in plan.to_index}
    for vid, frames in writer.result.complete.items():
        summary.indexed += 1
        summary.frames += frames
        summary.video_seconds += by_id[vid].metadata.duration_s
    for vid, reason in writer.result.failed.items():
        summary.failed.append({"path": by_id[vid].path, "reason": reason})


def fit_reservations(decode: float, embed: float, free_cpus: float | None, nodes: int) -> tuple[float, float]:
    """CPU reservations for one decode task and the embed actor that fit what the cluster has free.

    On one machine the service's replicas hold part of the CPUs; if the job asked for more than the
    rest, the embed actor would take its share and no decode task could ever start. A cluster of
    several nodes is left alone: there the autoscaler adds nodes for what the job asks.
    """
    need = decode + embed
    if free_cpus is None or nodes > 1 or free_cpus <= 0 or need <= free_cpus:
        return decode, embed
    scale = free_cpus / need * 0.95  # a margin: Ray rounds fractional CPUs to 1/10000
    log.warning(
        "only %.2f CPUs are free on this machine (the service holds the rest): reserving %.2f per "
        "decode task and %.2f for the embedder instead of %.2f and %.2f",
        free_cpus, decode * scale, embed * scale, decode, embed,
    )
    return decode * scale, embed * scale


def _local_free_cpus() -> tuple[float | None, int]:
    import ray

    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    return ray.available_resources().get("CPU"), nodes


def _progress_bar(enabled: bool, videos: int, frames: float):
    from tqdm import tqdm

    bar = tqdm(total=round(frames), unit="frame", disable=not enabled, file=sys.stderr, dynamic_ncols=True)

    def update(done: int | None, written: int | None) -> None:
        if done is None:
            bar.close()
            return
        bar.set_postfix_str(f"{done}/{videos} videos")
        bar.update(written - bar.n)

    return update


def print_summary(summary: IndexSummary, as_json: bool) -> None:
    if summary.semantic_missing:
        typer.echo(f"note: {summary.semantic_missing}", err=True)
    if summary.speech_missing:
        typer.echo(f"note: {summary.speech_missing}", err=True)
    if as_json:
        typer.echo(json.dumps(summary.as_json()))
        return
    s = summary.as_json()
    hours = summary.video_seconds / 3600
    typer.echo(
        f"indexed {summary.indexed}, skipped {summary.skipped} (moved {summary.moved}), "
        f"failed {len(summary.failed)}; {summary.frames} frames from {hours:.2f} h of video "
        f"in {summary.wall_s:.1f} s ({s['frames_per_s']} frames/s)"
    )
    if s["stages"]:
        stages = ", ".join(f"{k} {v['frames_per_s']}" for k, v in s["stages"].items() if v["frames_per_s"])
        runtime = f" (semantic: {summary.semantic_runtime})" if summary.semantic_runtime else ""
        typer.echo(f"frames per busy second of one worker: {stages}{runtime}")
    texts = summary.texts
    if texts["speech"] or texts["subtitles"] or texts["failed"]:
        typer.echo(
            f"text: {texts['speech']} transcribed, {texts['subtitles']} subtitle sources read, "
            f"{texts['segments']} segments; {len(texts['failed'])} sources failed"
        )
    for item in summary.failed:
        typer.echo(f"  failed: {item['path']}: {item['reason']}")
    for item in texts["failed"]:
        typer.echo(f"  text failed: {item['path']} ({item['source']}): {item['reason']}")


def index_command(
    paths: Annotated[list[str], typer.Argument(help="video files, folders or fsspec URIs")],
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="where the embedded store lives")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
) -> None:
    """Index videos: checksum, probe, decode at the configured rate, embed, fingerprint, store."""
    from vidsearch.embedders.descriptors import DescriptorUnavailable
    from vidsearch.store.errors import StoreError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(config, data_dir=data_dir)
        if not settings.data_dir.is_absolute() and "working_dir_files" in Path.cwd().parts:
            raise ConfigError(
                f"the data dir '{settings.data_dir}' would be inside this job's working directory, a copy "
                "that Ray deletes: give an absolute one (--data-dir /path/to/data or VIDSEARCH_DATA_DIR)")
        summary = run_index(paths, settings, show_progress=not as_json or sys.stderr.isatty())
    except (ConfigError, StoreError, FileNotFoundError, DescriptorUnavailable) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        import ray

        ray.shutdown()  # this driver's tasks and actors end with it, on its own cluster or a shared one
        typer.echo("interrupted: videos finished so far are kept; the next run indexes the rest", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_summary(summary, as_json)
    _leave_ray()
    raise typer.Exit(EXIT_FAILED_FILES if summary.failed else 0)


def _leave_ray() -> None:
    """Disconnect now, with Ctrl-C ignored: the work is done and kept, so a key pressed while Ray
    winds down must not turn a finished run into a traceback at exit."""
    import signal

    import ray

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ray.shutdown()


def main() -> None:
    typer.run(index_command)


if __name__ == "__main__":
    main()
