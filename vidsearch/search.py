"""Query logic shared by the service and the in-process chain: moments for a vector, clip matches.

Plain objects over the store; the Serve deployments are shells around them.
"""

from __future__ import annotations

import numpy as np

from vidsearch.filters import SearchFilters
from vidsearch.store.qdrant import FrameHit


def moments(store, vector: np.ndarray, k: int, filters: SearchFilters, group: bool, per_video: int = 3) -> list[dict]:
    """The best moments for a semantic query vector; `group` keeps the best few per video."""
    from vidsearch.rerank import dedupe_moments, group_by_video, rerank

    # Qdrant proposes (approximate on a server); FAISS re-scores the candidates exactly.
    query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    candidates, vectors = store.search_with_vectors(query, "semantic", max(4 * k, 64), filters.to_qdrant())
    if not candidates:
        return []
    hits = dedupe_moments(rerank(query, vectors, candidates, top_k=len(candidates))[0])
    if group:
        hits = [h for video in group_by_video(hits, per_video=per_video) for h in video.moments]
    return [_moment(h) for h in hits[:k]]


def _moment(hit: FrameHit) -> dict:
    return {
        "video_id": hit.video_id,
        "path": hit.path,
        "timestamp_s": round(hit.second, 3),
        "score": round(hit.score, 4),
        "thumbnail_url": f"/videos/{hit.video_id}/thumbnail?t={hit.second:.3f}",
    }


def candidate_videos(store, copy: np.ndarray, per_frame: int = 16, limit: int = 8) -> list[str]:
    """Videos whose frames are nearest to the clip's frames, by summed similarity: only these are
    aligned, so matching cost follows the number of candidates, not the library's size."""
    votes: dict[str, float] = {}
    for vector in copy:
        for hit in store.search(vector, "copy", limit=per_frame):
            votes[hit.video_id] = votes.get(hit.video_id, 0.0) + max(hit.score, 0.0)
    return [vid for vid, _ in sorted(votes.items(), key=lambda kv: -kv[1])[:limit]]


def match_clip(store, seconds: np.ndarray, copy: np.ndarray, limit: int = 5) -> list[dict]:
    """Sources of a clip, by aligning its frame sequence against each candidate video's frames."""
    from vidsearch.alignment import match_clip as align

    candidates = {}
    for vid in candidate_videos(store, copy):
        source_seconds, vectors = store.frame_vectors(vid, "copy")
        if len(vectors):
            candidates[vid] = (vectors, source_seconds)
    found = align(copy, candidates)
    paths = {vid: store.get_video(vid).path for vid in {vid for vid, _ in found}}
    return [
        {
            "video_id": vid,
            "path": paths[vid],
            "score": round(seg.score, 4),
            "source_start_s": round(seg.source_start_s, 3),
            "source_end_s": round(seg.source_end_s, 3),
            "query_start_s": round(seg.query_start_s, 3),
            "query_end_s": round(seg.query_end_s, 3),
            "visual_score": round(seg.score, 4),
            "audio": None,
        }
        for vid, seg in found[:limit]
    ]


def verify_audio(store, clip_path: str, matches: list[dict], tolerance_s: float = 1.0) -> list[dict]:
    """Say, for each visual match, whether the clip's audio sits at the same place in the source.

    `audio` stays None ("unknown") when the clip or the source has no usable audio: silence is no
    evidence either way.
    """
    from vidsearch.clips import clip_fingerprint
    from vidsearch.fingerprints import decode_items, locate

    if not matches:
        return matches
    clip = clip_fingerprint(clip_path)
    if clip.status != "fingerprinted":
        return matches
    for match in matches:
        record = store.get_video(match["video_id"], with_fingerprint=True)
        if record is None or not record.fingerprint or record.audio != "fingerprinted":
            continue
        found = locate(clip.items, decode_items(record.fingerprint))
        expected = match["source_start_s"] - match["query_start_s"]
        match["audio"] = {
            "verified": bool(found is not None and abs(found.offset_s - expected) <= tolerance_s),
            "offset_s": round(found.offset_s, 3) if found else None,
            "score": round(found.score, 4) if found else 0.0,
        }
    return matches
