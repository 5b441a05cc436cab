"""Ray Data stages: callables mapping numpy batches, each a shell over a core object."""

from __future__ import annotations

import os
import time

import numpy as np

from vidsearch.config import Settings
from vidsearch.embedders.semantic import SemanticEmbedder
from vidsearch.frame_batches import VideoPart, segment_batches
from vidsearch.media.files import checksum, local_copy, read_head, sniff_container
from vidsearch.media.probe import MediaError, VideoMetadata, probe


def inspect_file(row: dict) -> dict:
    """Checksum and probe one discovered file; a bad file gets `error` instead of metadata."""
    path = row["path"]
    out = {"path": path, "size_bytes": row["size_bytes"], "checksum": "", "metadata": "", "error": ""}
    try:
        out["checksum"] = checksum(path)
        if row["size_bytes"] == 0:
            out["error"] = "empty file (0 bytes)"
        elif sniff_container(read_head(path)) is None:
            out["error"] = "not a video: the content matches no video container format"
        else:
            with local_copy(path) as local:
                out["metadata"] = probe(local).model_dump_json()
    except MediaError as e:
        out["error"] = str(e)
    except OSError as e:
        out["error"] = f"cannot read file: {e.strerror or e}"
    return out


def decode_segments(batch: dict[str, np.ndarray], settings: Settings, image_size: int | None):
    """One input row per segment of a video; yields its frame batches as they are decoded."""
    for i in range(len(batch["video_id"])):
        meta = VideoMetadata.model_validate_json(batch["metadata"][i])
        seg = VideoPart(str(batch["video_id"][i]), str(batch["path"][i]), meta, int(batch["first"][i]), int(batch["end"][i]))
        yield from timed(segment_batches(seg, settings, image_size), "decode_s")


def timed(batches, column: str):
    """Each batch with the seconds spent making it, on its first row (the column sums to the
    stage's busy time): what the summary's frames/s per stage are made of."""
    batches = iter(batches)
    while True:
        started = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            return
        batch[column] = _spent(len(batch["frame_index"]), time.perf_counter() - started)
        yield batch


def _spent(rows: int, seconds: float) -> np.ndarray:
    spent = np.zeros(rows, np.float32)
    spent[0] = seconds
    return spent


class SemanticStage:
    """Embeds the frames of each batch on this actor's device; the model loads once per actor."""

    def __init__(self, model_dir: str, device: str, runtime: str, precision: str, cpu_threads: int | None, actors: int):
        # Ray gives an actor as many threads as CPUs it reserves (1); decoding at 1 fps needs a
        # fraction of a core, so on CPU the actors share this node's cores.
        threads = cpu_threads or max(1, (os.cpu_count() or 1) // actors)
        self.embedder = SemanticEmbedder(model_dir, device, runtime, precision, threads, prepare=("image",))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        pixels = batch.pop("pixels")
        wanted = (batch["frame_index"] >= 0) & batch["keep_semantic"]
        vectors = np.zeros((len(pixels), self.embedder.dim), dtype=np.float32)
        if wanted.any():
            vectors[wanted] = self.embedder.embed_images(pixels[wanted])
        batch["semantic"] = vectors
        batch["embed_s"] = _spent(len(pixels), time.perf_counter() - started)
        return batch


class TextStage:
    """Reads the subtitles and transcribes the speech of one video per row; the speech model loads
    once per actor, at the first video that needs it."""

    def __init__(self, settings_json: str, speech_model: tuple[str, str] | None):
        self.settings = Settings.model_validate_json(settings_json)
        self.speech_model = speech_model
        self._transcriber = None

    def _speech(self):
        if self._transcriber is None:
            from pathlib import Path

            from vidsearch.text.speech import SpeechModel, Transcriber

            name, path = self.speech_model
            self._transcriber = Transcriber(SpeechModel(name, Path(path)), self.settings.speech)
        return self._transcriber

    def _transcribe(self, task, local: str):
        from vidsearch.text.tasks import TextResult, transcribe

        try:
            transcriber = self._speech()
        except Exception as e:  # a broken model dir: speech fails, with the reason, video by video
            name = self.speech_model[0]
            return TextResult(task.video_id, "speech", "speech", name, error=f"speech model {name} cannot load: {e}")
        return transcribe(task, transcriber, local)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import pickle

        from vidsearch.text.tasks import read_subtitles, unreadable

        out = []
        for blob in batch["task"]:
            task = pickle.loads(blob)
            try:
                with local_copy(task.path) as local:
                    results = read_subtitles(task, local)
                    if task.speech and self.speech_model is not None:
                        results.append(self._transcribe(task, local))
            except OSError as e:  # the file went away since it was indexed: each source fails
                results = unreadable(task, f"cannot read the video: {e.strerror or e}")
            out.append(pickle.dumps((task, results)))
        return {"result": np.array(out, dtype=object)}


def describe_clip(row: dict, settings_json: str) -> dict:
    """A clip's copy vectors and audio fingerprint, as /match reads an upload; `error` for a clip
    that cannot be read (the job reports it and goes on)."""
    import pickle

    from vidsearch.clips import clip_fingerprint, clip_vectors
    from vidsearch.embedders.descriptors import load_descriptor

    settings = Settings.model_validate_json(settings_json)
    started = time.perf_counter()
    row = dict(row, clip=b"", error="")
    try:
        with local_copy(row["path"]) as local:
            vectors = clip_vectors(local, fps=settings.sampling.fps, max_side=settings.sampling.max_side,
                                   max_seconds=settings.serve.max_clip_s, descriptor=load_descriptor(settings.descriptor),
                                   fine_fps=settings.sampling.clip_fine_fps, fine_max_s=settings.sampling.clip_fine_max_s)
            row["clip"] = pickle.dumps((vectors, clip_fingerprint(local, vectors.metadata)))
    except MediaError as e:
        row["error"] = str(e)
    except OSError as e:
        row["error"] = f"cannot read file: {e.strerror or e}"
    row["decode_s"] = time.perf_counter() - started
    return row


class ClipMatcher:
    """Matches clips against the copy index this actor holds (loaded once: its snapshot, then what
    changed in the store since) and verifies their audio, as /match does."""

    def __init__(self, settings_json: str, k: int, library: str):
        from batch_jobs.cluster import cluster_store
        from vidsearch.copy_index import LiveCopyIndex

        self.settings = Settings.model_validate_json(settings_json)
        self.k, self.library = k, library
        self.store = cluster_store(self.settings)
        self.index = LiveCopyIndex(self.store, self.settings.copy_snapshot_path, min_free_mb=self.settings.min_free_mb,
                                   dim=self.store.copy_size())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import pickle

        from vidsearch.match_jobs import ClipOutcome
        from vidsearch.matching import match_clips, verify_audio

        rows = [{k: batch[k][i] for k in batch} for i in range(len(batch["path"]))]
        described = [pickle.loads(r["clip"]) if not r["error"] else None for r in rows]
        started = time.perf_counter()
        with self.index.synced() as index:
            found = match_clips(self.store, index, [d[0] for d in described if d], limit=self.k)
        spent = (time.perf_counter() - started) / max(1, len(found))
        outcomes = []
        for row, clip in zip(rows, described):
            path = str(row["path"])
            if clip is None:
                outcomes.append(ClipOutcome(path=path, checksum=str(row["checksum"]), status="failed", reason=str(row["error"])))
                continue
            vectors, fingerprint = clip
            began = time.perf_counter()
            local = path if os.path.isfile(path) else None  # retimed audio is read from the file itself
            matches = verify_audio(self.store, fingerprint, found.pop(0), clip_path=local)
            seconds = float(row["decode_s"]) + spent + time.perf_counter() - began
            outcomes.append(ClipOutcome.of(path, str(row["checksum"]), vectors.metadata.duration_s, matches,
                                           self.library, self.k, seconds))
        return {"outcome": np.array([o.model_dump_json() for o in outcomes], dtype=object)}
