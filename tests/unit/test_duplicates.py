"""Copies of the same footage, found from the store's copy vectors (both engines): a re-encode, a
trim, and videos that share only an intro or hold only flat frames."""

import numpy as np

from tests.unit.test_store import record
from vidsearch.alignment import flat_frame_vector
from vidsearch.duplicates import find_copies, groups
from vidsearch.embedders.copy import DIM

RNG = np.random.default_rng(9)
FOOTAGE = RNG.normal(size=(30, DIM)).astype(np.float32)


def noisy(vectors, amount=0.15):
    return (vectors + amount * RNG.normal(size=vectors.shape) / np.sqrt(DIM) * np.linalg.norm(vectors, axis=1,
                                                                                           keepdims=True)).astype(np.float32)


def add(store, name, vectors, status="complete"):
    r = record(checksum=name, path=f"/v/{name}.mp4", status=status)
    n = len(vectors)
    r.frames, r.sampling_fps = n, 1.0
    store.put_video(r)
    store.upsert_frames(r.frame_payload(), np.arange(n), np.arange(n, dtype=np.float32), vectors)
    return r.video_id


def test_a_re_encode_and_a_trim_are_copies_an_intro_and_black_frames_are_not(store):
    original = add(store, "original", FOOTAGE)
    encode = add(store, "encode", noisy(FOOTAGE))
    trim = add(store, "trim", noisy(FOOTAGE[8:22]))
    intro = add(store, "intro", np.vstack([noisy(FOOTAGE[:5]), RNG.normal(size=(25, DIM))]).astype(np.float32))
    black = add(store, "black", np.vstack([np.repeat(flat_frame_vector()[None], 20, axis=0),
                                           noisy(FOOTAGE[:2])]).astype(np.float32))
    links = {vid: find_copies(store, vid, 1.0) for vid in (encode, trim, intro, black)}

    found = {link.video_id: link for link in links[encode]}
    assert set(found) == {original, trim}
    same = found[original]
    assert same.covers > 0.9 and same.other_covers > 0.9 and same.score > 0.9
    assert abs(same.offset_s) < 0.5 and same.start_s <= 1 and same.end_s >= 29

    within = {link.video_id: link for link in links[trim]}
    assert original in within and encode in within
    assert within[original].covers > 0.9 and within[original].other_covers < 0.6
    assert abs(within[original].offset_s - 8) < 0.5  # the trim's second 0 is the original's 8

    assert links[intro] == [] and links[black] == []


def test_links_join_into_groups_and_forget_deleted_videos(store):
    a = add(store, "a", FOOTAGE)
    b = add(store, "b", noisy(FOOTAGE))
    store.set_status(b, "complete", copies=[l.model_dump() for l in find_copies(store, b, 1.0)])
    c = add(store, "c", noisy(FOOTAGE[5:25]))
    store.set_status(c, "complete", copies=[l.model_dump() for l in find_copies(store, c, 1.0)])
    other = add(store, "other", RNG.normal(size=(20, DIM)).astype(np.float32))
    found = groups(store.list_videos())
    assert found.members == [sorted([a, b, c])] and other not in found.of
    relations = {frozenset((p.a, p.b)): p.relation for p in found.pairs[0]}
    assert relations[frozenset((a, b))] == "same" and relations[frozenset((c, a))] == "within"
    pair = next(p for p in found.pairs[0] if {p.a, p.b} == {a, c})
    assert pair.maps(c, 0.0)[0] == a and abs(pair.maps(c, 0.0)[1] - 5) < 0.5
    store.delete_video(a)
    assert groups(store.list_videos()).members == [sorted([b, c])]


def test_search_results_of_one_footage_fold_into_the_best(store):
    from vidsearch.duplicates import fold_copies
    from vidsearch.results import Moment

    a = add(store, "fa", FOOTAGE)
    c = add(store, "fc", noisy(FOOTAGE[5:25]))
    store.set_status(c, "complete", copies=[l.model_dump() for l in find_copies(store, c, 1.0)])
    found = groups(store.list_videos())

    def at(video, second, score):
        return Moment(video_id=video, path=f"/v/{video}", timestamp_s=second, score=score, matched=["visual"])

    # c's 3 s is a's 8 s: one result, naming c; c's 15 s (a's 20 s) is another moment of a: kept.
    results = fold_copies([at(a, 8, 0.9), at(c, 3, 0.8), at(c, 15, 0.7), at(a, 1, 0.6)], found)
    assert [(r.video_id, r.timestamp_s) for r in results] == [(a, 8), (c, 15), (a, 1)]
    assert [(ref.video_id, ref.timestamp_s) for ref in results[0].copies] == [(c, 3)]
    assert results[1].copies is None


def test_flat_frames_count_only_where_both_videos_are_flat(store):
    """A video of an intro and black frames is no copy of the intro's video; a copy of a video
    with a black stretch in it is still its copy."""
    flat = np.repeat(flat_frame_vector()[None], 12, axis=0)
    with_black = np.vstack([FOOTAGE[:10], flat, FOOTAGE[10:20]]).astype(np.float32)
    original = add(store, "with_black", with_black)
    copy = add(store, "copy_with_black", noisy(with_black))
    intro_then_black = add(store, "intro_then_black", np.vstack([noisy(FOOTAGE[:5]), flat]).astype(np.float32))
    [link] = [l for l in find_copies(store, copy, 1.0) if l.video_id == original]
    assert link.covers > 0.9 and link.other_covers > 0.9
    assert find_copies(store, intro_then_black, 1.0) == []


def test_videos_indexed_before_copies_were_looked_for_get_them_without_a_new_version(store):
    from vidsearch.duplicates import look_for_copies

    a = add(store, "old_a", FOOTAGE)
    b = add(store, "old_b", noisy(FOOTAGE))
    versions = store.complete_versions()
    assert look_for_copies(store, 1.0) == 2 and look_for_copies(store, 1.0) == 0
    assert [link.video_id for link in store.get_video(b).copies] == [a]
    assert groups(store.list_videos()).members == [sorted([a, b])]
    assert store.complete_versions() == versions  # the copy index has nothing to load again
