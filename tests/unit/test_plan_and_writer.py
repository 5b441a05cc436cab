"""Planning an index run and writing its rows, against a real local store, without Ray."""

import numpy as np

from vidsearch.embedders.copy import DIM
from vidsearch.frame_batches import _batch, failure_batch
from vidsearch.media.probe import VideoMetadata
from vidsearch.media.thumbnails import ThumbnailStore
from vidsearch.plan import Inspected, make_plan
from vidsearch.store import ids
from vidsearch.writer import IndexWriter

META = VideoMetadata(
    container="mp4", duration_s=4.0, width=320, height=240, coded_width=320, coded_height=240,
    fps=25, variable_frame_rate=False, video_codec="h264",
)


def seen(path, checksum, error=None):
    return Inspected(str(path), 100, checksum, None if error else META, error)


def finish(store, plan, model=None):
    for r in plan.records:
        store.put_video(r)
        store.set_status(r.video_id, "complete", frames=4, semantic_model=model)


def test_plan_rules(tmp_path, store):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"x")
    first = make_plan([seen(a, "c1"), seen(b, "c2"), seen(tmp_path / "bad.mp4", "c3", "not a video")], store, None, 1.0)
    assert [t.path for t in first.to_index] == [str(a), str(b)]
    assert [f.error for f in first.failed] == ["not a video"]
    finish(store, first)

    again = make_plan([seen(a, "c1")], store, None, 1.0)
    assert again.to_index == [] and again.skipped == [(str(a), "unchanged")]
    # Sampled at another rate than the one asked for now: sampled again.
    assert [t.path for t in make_plan([seen(a, "c1")], store, None, 2.0).to_index] == [str(a)]

    moved = tmp_path / "moved.mp4"  # b's content at a new path while b is gone: a move
    assert make_plan([seen(moved, "c2")], store, None, 1.0).moved == [(ids.video_id("c2"), str(moved))]

    changed = make_plan([seen(a, "c9")], store, None, 1.0)  # a's content changed
    assert changed.stale == [ids.video_id("c1")] and [t.video_id for t in changed.to_index] == [ids.video_id("c9")]

    copy = tmp_path / "copy.mp4"  # the same content at a second path that still exists
    dup = make_plan([seen(a, "c1"), seen(copy, "c1")], store, None, 1.0)
    assert dup.skipped[-1] == (str(copy), f"same content as {a}")

    # Once a semantic model is available, videos indexed without it are indexed again.
    assert [t.path for t in make_plan([seen(a, "c1")], store, "siglip", 1.0).to_index] == [str(a)]

    # Copy vectors an older descriptor made (records before versions name none) are made again.
    store.set_status(ids.video_id("c1"), "complete", frames=4, copy_descriptor=None)
    assert [t.path for t in make_plan([seen(a, "c1")], store, None, 1.0).to_index] == [str(a)]


def rows(vid, indexes, audio=False):
    out = []
    for i in indexes:
        row = {"frame_index": i, "second": float(i), "copy": np.ones(DIM, np.float32), "thumb": b"\xff\xd8jpeg", "keep_semantic": True}
        out.append(row)
    if audio:  # the first segment's last row carries the audio result
        out[-1].update(audio="fingerprinted", fingerprint="AQID")
    return _batch(vid, out, None)


def test_writer_completes_only_when_every_frame_is_in(tmp_path, store):
    vid = ids.video_id("w")
    plan = make_plan([seen(tmp_path / "w.mp4", "w")], store, None, 1.0)
    store.put_video(plan.records[0])
    thumbs = ThumbnailStore(tmp_path / "thumbs", fps=1.0)
    writer = IndexWriter(store, thumbs, {vid: (plan.records[0].frame_payload(), 4)}, None)
    writer.write(rows(vid, [3]))  # a later segment arrives first
    writer.write(rows(vid, [0, 1], audio=True))
    assert store.get_video(vid).status == "indexing" and writer.unfinished() == [vid]
    writer.write(rows(vid, [2]))
    record = store.get_video(vid, with_fingerprint=True)
    assert (record.status, record.frames, record.audio, record.fingerprint) == ("complete", 4, "fingerprinted", "AQID")
    assert store.count_frames(vid) == 4
    assert thumbs.at(vid, 2.2).read_bytes() == b"\xff\xd8jpeg" and thumbs.at(vid, 99) is None


def test_writer_failure_removes_partial_work(tmp_path, store):
    vid = ids.video_id("f")
    plan = make_plan([seen(tmp_path / "f.mp4", "f")], store, None, 1.0)
    store.put_video(plan.records[0])
    thumbs = ThumbnailStore(tmp_path / "thumbs", fps=1.0)
    writer = IndexWriter(store, thumbs, {vid: (plan.records[0].frame_payload(), 3)}, None)
    writer.write(rows(vid, [0, 1]))
    writer.write(failure_batch(vid, "truncated or corrupt: ...", None))
    writer.write(rows(vid, [2]))  # late frames of a failed video are dropped
    record = store.get_video(vid)
    assert record.status == "failed" and record.error.startswith("truncated")
    assert store.count_frames(vid) == 0 and thumbs.at(vid, 0) is None


def test_index_steps_without_ray(tmp_path, store):
    """The job's steps around the pipeline: plan applied to the store, batches written, summary."""
    from batch_jobs.index_videos import IndexSummary, apply_plan, make_writer, summarise, write_all
    from vidsearch.config import Settings

    done, cut, broken = tmp_path / "done.mp4", tmp_path / "cut.mp4", tmp_path / "broken.mp4"
    inspected = [seen(done, "d"), seen(cut, "c"), seen(broken, "b", error="moov atom not found")]
    plan = make_plan(inspected, store, None, 1.0)
    summary = IndexSummary()
    thumbs = ThumbnailStore(tmp_path / "thumbs", fps=1.0)
    apply_plan(plan, store, thumbs, summary)
    assert {r.status for r in store.list_videos()} == {"indexing", "failed"}
    assert summary.failed == [{"path": str(broken), "reason": "moov atom not found"}]
    writer = make_writer(plan, store, thumbs, Settings(data_dir=tmp_path), None)
    assert writer.frames_expected == 8  # two 4 s videos at 1 fps
    vd, vc = ids.video_id("d"), ids.video_id("c")
    write_all(iter([rows(vd, [0, 1, 2, 3], audio=True), rows(vc, [0, 1], audio=True)]), writer)
    summarise(plan, writer, summary)
    by_path = {r.path: r for r in store.list_videos()}
    assert by_path[str(done)].status == "complete" and store.count_frames(vd) == 4
    assert by_path[str(cut)].status == "failed" and "pipeline ended" in by_path[str(cut)].error
    assert store.count_frames(vc) == 0
    assert (summary.indexed, summary.frames, len(summary.failed)) == (1, 4, 2)


def test_writer_makes_scenes_from_every_parts_boundaries(tmp_path, store):
    from vidsearch.media.shots import Boundary
    from vidsearch.scenes import encode_cuts

    vid = ids.video_id("s")
    plan = make_plan([seen(tmp_path / "s.mp4", "s")], store, None, 1.0)
    store.put_video(plan.records[0])
    payload = {**plan.records[0].frame_payload(), "duration_s": 4.0}
    writer = IndexWriter(store, ThumbnailStore(tmp_path / "thumbs", fps=1.0), {vid: (payload, 4)}, None, 1.0, scenes=True)
    later = rows(vid, [2, 3])
    later["cuts"][-1] = encode_cuts([Boundary(3.2, "cut", 0.5)])
    first = rows(vid, [0, 1], audio=True)
    first["cuts"][-1] = encode_cuts([Boundary(1.5, "gradual", 0.4)])
    writer.write(later)  # parts arrive in any order
    assert store.get_video(vid).scenes is None
    writer.write(first)
    scenes = store.get_video(vid).scenes
    assert [(s.start_s, s.end_s, s.opens_with) for s in scenes] == [
        (0.0, 1.5, "start"), (1.5, 3.2, "gradual"), (3.2, 4.0, "cut")
    ]
    assert store.list_videos()[0].scenes is None  # a list of videos leaves them out


def test_with_scenes_on_a_video_indexed_without_them_is_indexed_again(store, tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    first = make_plan([seen(a, "s1")], store, None, 1.0, scenes=True)
    [record] = first.records
    store.put_video(record.model_copy(update={"status": "complete"}))
    assert [t.path for t in make_plan([seen(a, "s1")], store, None, 1.0, scenes=True).to_index] == [str(a)]
    assert make_plan([seen(a, "s1")], store, None, 1.0, scenes=False).to_index == []
    store.set_status(record.video_id, "complete", scenes=[])
    assert make_plan([seen(a, "s1")], store, None, 1.0, scenes=True).to_index == []
