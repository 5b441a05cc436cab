"""Timed text: a segment of a transcript or a subtitle cue, and where words sit in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass
class TextSegment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)  # empty for subtitle cues: they have no word times

    def as_payload(self) -> dict:
        out = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}
        if self.words:
            out["words"] = [[w.text, round(w.start, 3), round(w.end, 3)] for w in self.words]
        return out

    @classmethod
    def from_payload(cls, p: dict) -> TextSegment:
        words = [Word(str(w), float(s), float(e)) for w, s, e in p.get("words") or []]
        return cls(float(p["start"]), float(p["end"]), p["text"], words)


def normalise(word: str) -> str:
    return word.casefold().replace("’", "'")


def terms(text: str) -> list[str]:
    """The words of a query or a text, folded for comparison."""
    return [normalise(m.group()) for m in _WORD.finditer(text)]


def _same(a: str, b: str) -> bool:
    """Equal, or one a suffix variant of the other (jewel/jewels, walk/walking): what BM25's
    stemmer also counts as one term, near enough to place a hit on its word."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


def locate(segment: TextSegment, query: str, phrase: bool = False) -> tuple[float, list[tuple[int, int]]]:
    """The second where the query's words are said in `segment`, and the character spans of the
    matched words in its text (for marking). A phrase matches its words in a row; other queries
    match each word anywhere, and the second is that of the first one matched."""
    wanted = terms(query)
    spans = [(m.start(), m.end(), normalise(m.group())) for m in _WORD.finditer(segment.text)]
    marks: list[tuple[int, int]] = []
    first: int | None = None  # index, among the text's words, of the first matched word
    if wanted and phrase:
        n = len(wanted)
        for i in range(len(spans) - n + 1):
            if all(_same(spans[i + j][2], wanted[j]) for j in range(n)):
                marks.extend((s, e) for s, e, _ in spans[i : i + n])
                first = i if first is None else first
    elif wanted:
        for i, (s, e, word) in enumerate(spans):
            if any(_same(word, w) for w in wanted):
                marks.append((s, e))
                first = i if first is None else first
    return _second_of(segment, spans, first), marks


def _second_of(segment: TextSegment, spans, index: int | None) -> float:
    if index is None:
        return segment.start
    if segment.words:
        # The transcript's own words, in the same order as those of its text.
        timed = [w for w in segment.words if terms(w.text)]
        if len(timed) == len(spans):
            return timed[index].start
        target = spans[index][2]
        for w in timed:
            if any(_same(t, target) for t in terms(w.text)):
                return w.start
    # A cue has no word times: place the word by where it sits in the cue's text.
    share = spans[index][0] / max(len(segment.text), 1)
    return segment.start + share * max(segment.end - segment.start, 0.0)
