"""Sampling rates other than 1 fps, end to end without Ray: a real video indexed through the index
job's own steps at 0.5, 1 and 2 fps, then a clip cut from it matched at that rate. The times a match
reports are seconds, whatever the rate; thumbnails are found at the rate the video was indexed at;
and a change of rate indexes the library again."""

import subprocess

import pytest

from batch_jobs.index_videos import IndexSummary, apply_plan, make_writer, summarise, write_all
from batch_jobs.stages import inspect_file
from vidsearch.clips import clip_fingerprint, clip_vectors
from vidsearch.config import Settings
from vidsearch.copy_index import CopyIndex
from vidsearch.embedders.descriptors import descriptor_version
from vidsearch.frame_batches import segment_batches, segments
from vidsearch.matching import match_clip, verify_audio
from vidsearch.media.probe import VideoMetadata
from vidsearch.media.thumbnails import ThumbnailStore
from vidsearch.plan import Inspected, make_plan

SOURCE = "bbb_opening_480p_30s.mp4"
CUT_AT, CUT_S = 8.0, 12.0


def plan_of(paths, store, settings: Settings):
    """What `vidsearch index` would do with `paths`: each inspected, then the plan."""
    rows = [inspect_file({"path": str(p), "size_bytes": p.stat().st_size}) for p in paths]
    inspected = [
        Inspected(r["path"], r["size_bytes"], r["checksum"], VideoMetadata.model_validate_json(r["metadata"]))
        for r in rows
    ]
    return make_plan(inspected, store, None, settings.sampling.fps, copy_version=descriptor_version(settings.descriptor))


def index(paths, store, settings: Settings, thumbnails: ThumbnailStore):
    """What `vidsearch index` does around its Ray pipeline, with the pipeline's own batches."""
    plan = plan_of(paths, store, settings)
    summary = IndexSummary()
    apply_plan(plan, store, thumbnails, summary)
    writer = make_writer(plan, store, thumbnails, settings, None)
    parts = [p for task in plan.to_index for p in segments(task, settings.sampling.fps, settings.sampling.segment_s)]
    write_all((b for part in parts for b in segment_batches(part, settings, None)), writer)
    summarise(plan, writer, summary)
    return plan, summary


@pytest.fixture(scope="module")
def clip(shared_videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("clip") / "cut.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(CUT_AT), "-t", str(CUT_S), "-i", str(shared_videos / SOURCE),
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
        check=True,
    )
    return out


@pytest.mark.parametrize("fps", [0.5, 1.0, 2.0])
def test_clip_times_are_seconds_at_any_rate(store, shared_videos, clip, tmp_path, fps):
    settings = Settings(data_dir=tmp_path, sampling={"fps": fps})
    thumbnails = ThumbnailStore(settings.thumbnails_dir, fps)
    _, summary = index([shared_videos / SOURCE], store, settings, thumbnails)
    assert summary.indexed == 1 and summary.frames == pytest.approx(30 * fps, abs=1)
    [record] = store.list_videos()
    assert record.sampling_fps == fps

    library = CopyIndex()
    library.sync(store)
    vectors = clip_vectors(str(clip), fps=fps)
    matches = match_clip(store, library, vectors)
    assert matches and matches[0].video_id == record.video_id, matches
    best = matches[0]
    step = 1 / fps  # a match is exact to one sample
    assert best.source_start_s - best.query_start_s == pytest.approx(CUT_AT, abs=step + 0.5)
    assert best.query_end_s == pytest.approx(CUT_S, abs=step + 0.5)
    assert best.query_end_s - best.query_start_s <= CUT_S + 0.5
    [verified] = verify_audio(store, clip_fingerprint(str(clip)), [best], clip_path=str(clip))
    assert verified.evidence == "both", verified

    # The thumbnail of a second is the frame sampled nearest it, at the video's own rate.
    assert thumbnails.at(record.video_id, 10.0, fps) == thumbnails.path(record.video_id, round(10.0 * fps))
    assert thumbnails.at(record.video_id, 10.0, fps).exists()


def test_a_new_rate_indexes_again(store, shared_videos, tmp_path):
    first = Settings(data_dir=tmp_path, sampling={"fps": 1.0})
    thumbnails = ThumbnailStore(first.thumbnails_dir, 1.0)
    index([shared_videos / SOURCE], store, first, thumbnails)
    again, _ = index([shared_videos / SOURCE], store, first, thumbnails)
    assert again.to_index == []  # same rate: nothing to do

    faster = Settings(data_dir=tmp_path, sampling={"fps": 2.0})
    plan, summary = index([shared_videos / SOURCE], store, faster, ThumbnailStore(faster.thumbnails_dir, 2.0))
    assert len(plan.to_index) == 1 and summary.indexed == 1
    [record] = store.list_videos()
    assert record.sampling_fps == 2.0 and store.count_frames(record.video_id) == summary.frames
    # No thumbnail of the old rate is left to be read at the new one.
    stored = sorted(p.name for p in (first.thumbnails_dir / record.video_id).iterdir())
    assert len(stored) == summary.frames
