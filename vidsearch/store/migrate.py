"""Copying a whole store: an old local-mode data dir into Edge, Edge to a server, and back.

Points keep their ids, so a copy can be repeated (or resumed after an interruption) without
duplicating anything, and every reference between frames and videos still holds.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass

from vidsearch.config import Settings
from vidsearch.store.base import VideoStore
from vidsearch.store.errors import StoreError

log = logging.getLogger(__name__)

MIGRATED_SUFFIX = ".local-mode-migrated"


@dataclass
class CopySummary:
    videos: int = 0
    frames: int = 0
    texts: int = 0


def copy_store(source: VideoStore, target: VideoStore, progress: bool = False) -> CopySummary:
    """Every video record, frame and text point of `source` into `target`; then check the counts."""
    from tqdm import tqdm

    for what, have, into in (("semantic", source.semantic_dim, target.semantic_dim),
                             ("copy", source.copy_dim, target.copy_dim)):
        if have != into:
            raise StoreError(
                f"the source holds {have}-d {what} vectors and the target {into}-d ones: copy into an "
                f"empty target sized for the source"
            )
    summary = CopySummary()
    expected = source.count_frames()
    with tqdm(total=expected, unit="frame", disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        # Frames before records: a reader of the target never sees a complete video without frames.
        for page in source.export_points("frames"):
            target.import_points("frames", page)
            summary.frames += len(page)
            bar.update(len(page))
        for page in source.export_points("texts"):
            target.import_points("texts", page)
            summary.texts += len(page)
        for page in source.export_points("videos"):
            target.import_points("videos", page)
            summary.videos += len(page)
    target.optimize()
    copied = target.count_frames()
    if copied < expected:
        raise StoreError(f"the copy holds {copied} frames of {expected}: it is incomplete, run it again")
    return summary


def needs_migration(settings: Settings) -> bool:
    """A data dir that holds local-mode collections and no Edge store yet."""
    return _local_collections(settings) and not any(settings.edge_path.glob("*/segments"))


def _local_collections(settings: Settings) -> bool:
    return (settings.local_mode_path / "collection" / settings.qdrant.frames_collection).is_dir()


def migrate_local(settings: Settings, progress: bool | None = None) -> CopySummary:
    """Copy the local-mode store of an earlier release into Edge, then set the old folder aside
    (renamed, not deleted: remove it once the new store has served you)."""
    from qdrant_client import QdrantClient

    from vidsearch.store.edge import EdgeStore
    from vidsearch.store.server import ServerStore

    old = settings.local_mode_path
    if not _local_collections(settings):
        raise StoreError(f"{old} holds no local-mode store to migrate")
    log.warning("migrating the embedded store in %s to Qdrant Edge in %s; this runs once", old, settings.edge_path)
    try:
        client = QdrantClient(path=str(old))
    except RuntimeError as e:
        raise StoreError(f"cannot open the old store at {old} to migrate it: {e}") from None
    source = ServerStore(client, settings.qdrant, settings.semantic.dim, indexes=False)
    partial = settings.edge_path.with_name(settings.edge_path.name + ".migrating")
    shutil.rmtree(partial, ignore_errors=True)  # what an interrupted migration left
    try:
        target = EdgeStore.open(settings.qdrant, partial, source.semantic_dim, settings.min_free_mb, source.copy_dim)
        try:
            summary = copy_store(source, target, progress=sys.stderr.isatty() if progress is None else progress)
        finally:
            target.close()
    finally:
        source.close()
    # The new store appears whole or not at all; the old one stays, renamed, until the user removes it.
    shutil.rmtree(settings.edge_path, ignore_errors=True)
    partial.rename(settings.edge_path)
    aside = old.with_name(old.name + MIGRATED_SUFFIX)
    old.rename(aside)
    log.warning(
        "migrated %d videos and %d frames to %s; the old store is kept in %s",
        summary.videos, summary.frames, settings.edge_path, aside,
    )
    return summary
