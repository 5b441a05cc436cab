"""BM25 sparse vectors of text, computed here for both engines.

Qdrant's own BM25 (tokenizer, English stop words and stemmer, through Qdrant Edge's binding) gives
term-frequency weights; the store's sparse vectors carry the IDF modifier, so the engine weighs
terms by how rare they are across the library. Computed client-side, the same vectors serve
Edge and a server alike.
"""

from __future__ import annotations

from functools import lru_cache

from qdrant_client import models

AVG_WORDS = 12  # a transcript segment or subtitle cue is about a sentence


@lru_cache(maxsize=1)
def _model():
    import qdrant_edge as qe

    return qe.Bm25(qe.Bm25Config(avg_len=AVG_WORDS))


def document(text: str) -> models.SparseVector:
    v = _model().embed_document(text)
    return models.SparseVector(indices=list(v.indices), values=list(v.values))


def query(text: str) -> models.SparseVector:
    v = _model().embed_query(text)
    return models.SparseVector(indices=list(v.indices), values=list(v.values))
