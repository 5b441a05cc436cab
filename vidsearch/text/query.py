"""Text queries: the words to rank by, the quoted phrases that must appear, and the hits they
give, placed on the second the words are said."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qdrant_client import models

from vidsearch.results import Moment, Quote, TranscriptLine
from vidsearch.text.segments import locate

_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')


@dataclass(frozen=True)
class TextQuery:
    words: str  # everything the query says, quotes removed: what BM25 ranks by
    phrases: tuple[str, ...]  # quoted parts: segments must hold each, words in a row

    @classmethod
    def parse(cls, q: str) -> TextQuery:
        phrases = tuple(p.strip() for m in _QUOTED.finditer(q) for p in m.groups() if p and p.strip())
        words = " ".join(_QUOTED.sub(lambda m: f" {m.group(1) or m.group(2)} ", q).replace('"', " ").split())
        return cls(words, phrases)


KINDS = {"speech": "said", "subtitle": "subtitle"}  # point kind -> why a result matched


def text_moments(store, q: str, k: int, flt: models.Filter | None, kind: str | None = None) -> list[Moment]:
    """Moments where the query's words are said (or shown in subtitles), best first."""
    query = TextQuery.parse(q)
    if not query.words:
        return []
    must = [flt] if flt else []
    if kind:
        must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=kind)))
    for phrase in query.phrases[1:]:
        must.append(models.FieldCondition(key="text", match=models.MatchPhrase(phrase=phrase)))
    hits = store.search_texts(
        query.words, max(2 * k, 20), models.Filter(must=must) if must else None,
        phrase=query.phrases[0] if query.phrases else None,
    )
    out = []
    for hit in hits:
        seg = hit.segment
        if query.phrases:
            placed = [locate(seg, p, phrase=True) for p in query.phrases]
            second, marks = placed[0][0], sorted({m for _, found in placed for m in found})
        else:
            second, marks = locate(seg, query.words)
        out.append(Moment(
            video_id=hit.video_id, path=hit.path, timestamp_s=round(second, 3), score=round(hit.score, 4),
            matched=[KINDS["speech" if hit.source == "speech" else "subtitle"]],
            quote=Quote(text=seg.text, marks=[tuple(m) for m in marks], source=hit.source,
                        start_s=round(seg.start, 3), end_s=round(seg.end, 3)),
        ))
    return out


def transcript(store, video_id: str, kind: str | None = None, q: str | None = None) -> list[TranscriptLine]:
    """A video's text segments in time order; with `q`, those that match it, words marked."""
    if q and TextQuery.parse(q).words:
        found = text_moments(store, q, 200, models.Filter(must=[
            models.FieldCondition(key="video_id", match=models.MatchValue(value=video_id))
        ]), kind)
        rows = [TranscriptLine(**m.quote.model_dump(), timestamp_s=m.timestamp_s) for m in found]
        return sorted(rows, key=lambda r: (r.start_s, r.source))
    return [
        TranscriptLine(start_s=round(h.segment.start, 3), end_s=round(h.segment.end, 3), text=h.segment.text, source=h.source)
        for h in store.texts_of(video_id, kind)
    ]


def as_srt(rows: list[TranscriptLine]) -> str:
    return "".join(
        f"{i}\n{_stamp(r.start_s, ',')} --> {_stamp(r.end_s, ',')}\n{r.text}\n\n" for i, r in enumerate(rows, 1)
    )


def as_vtt(rows: list[TranscriptLine]) -> str:
    cues = "".join(f"{_stamp(r.start_s, '.')} --> {_stamp(r.end_s, '.')}\n{r.text}\n\n" for r in rows)
    return "WEBVTT\n\n" + cues


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
