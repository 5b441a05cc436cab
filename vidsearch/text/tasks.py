"""Which text each video needs read, reading it, and writing what was read.

Runs after a video's frames are in: for every complete video of a run, subtitles whose source
changed (a new or edited sidecar, a track not read yet) and speech not yet transcribed with the
configured model. A source that fails is recorded as failed with its reason; the video and its
other sources are unaffected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from vidsearch.config import Settings
from vidsearch.store.records import TextState, VideoRecord
from vidsearch.text import subtitles as subs
from vidsearch.text.segments import TextSegment

log = logging.getLogger(__name__)

NO_SPEECH_AUDIO = {"silent", "none"}


@dataclass
class TextTask:
    video_id: str
    path: str
    duration_s: float
    read: list[tuple[subs.SubtitleSource, str | None, str]] = field(default_factory=list)  # source, codec, signature
    speech: bool = False
    gone: list[str] = field(default_factory=list)  # origins the video no longer has

    @property
    def empty(self) -> bool:
        return not (self.read or self.speech or self.gone)


@dataclass
class TextResult:
    video_id: str
    origin: str
    source: str
    signature: str
    lang: str | None = None
    segments: list[TextSegment] = field(default_factory=list)
    error: str | None = None


def plan_texts(records: list[VideoRecord], settings: Settings, speech_model: str | None) -> list[TextTask]:
    """A task per video that has text to (re)read; `speech_model` None: no transcription."""
    tasks = []
    for record in records:
        if record.status != "complete" or record.metadata is None:
            continue
        task = TextTask(record.video_id, record.path, record.metadata.duration_s)
        origins: set[str] = set()
        if settings.subtitles.enabled:
            found = []
            if settings.subtitles.tracks:
                codecs = {t.index: t.codec for t in record.metadata.subtitle_tracks}
                found += [(src, codecs.get(src.track)) for src in subs.tracks(record.path, record.metadata.subtitle_tracks)]
            if settings.subtitles.sidecars:
                found += [(src, None) for src in subs.sidecars(record.path)]
            for src, codec in found:
                origins.add(src.origin)
                try:
                    signature = subs.signature(src)
                except OSError as e:
                    signature = f"unreadable: {e}"
                done = record.texts.get(src.origin)
                if done is None or done.signature != signature:
                    task.read.append((src, codec, signature))
        speech = record.texts.get("speech")
        if (
            speech_model is not None
            and settings.speech.enabled
            and record.metadata.audio_tracks
            and record.audio not in NO_SPEECH_AUDIO
        ):
            origins.add("speech")
            task.speech = speech is None or speech.signature != speech_model or speech.status == "failed"
        elif speech is not None and speech.status == "complete":
            origins.add("speech")  # transcribed before: kept while no model is configured
        task.gone = [origin for origin in record.texts if origin not in origins]
        if not task.empty:
            tasks.append(task)
    return tasks


def read_subtitles(task: TextTask, local_path: str | None = None) -> list[TextResult]:
    results = []
    for src, codec, signature in task.read:
        result = TextResult(task.video_id, src.origin, src.source, signature, lang=src.lang)
        try:
            result.segments = subs.read_source(src, codec, local_path)
        except (subs.SubtitleError, OSError) as e:
            result.error = str(e)
        except Exception as e:  # ffmpeg timing out, an unreadable remote file: this source only
            result.error = f"cannot read subtitles: {e}"
        results.append(result)
    return results


def transcribe(task: TextTask, transcriber, local_path: str | None = None) -> TextResult:
    from vidsearch.text.speech import SpeechError

    result = TextResult(task.video_id, "speech", "speech", transcriber.model.name)
    try:
        transcript = transcriber.transcribe(local_path or task.path, task.duration_s)
    except SpeechError as e:
        result.error = str(e)
    except Exception as e:  # the model itself failing on this audio: this video's speech only
        log.exception("transcribing %s failed", task.path)
        result.error = f"transcription failed: {type(e).__name__}: {e}"
    else:
        result.lang, result.segments = transcript.lang, transcript.segments
    return result


def unreadable(task: TextTask, reason: str) -> list[TextResult]:
    """Every source of `task` failed for one reason (the video file cannot be read)."""
    results = [TextResult(task.video_id, src.origin, src.source, sig, error=reason) for src, _, sig in task.read]
    if task.speech:
        results.append(TextResult(task.video_id, "speech", "speech", "", error=reason))
    return results


def write_results(store, record: VideoRecord, results: list[TextResult], gone: list[str]) -> dict[str, TextState]:
    """Write one video's text results and record each origin's state; drop origins that are gone."""
    texts = dict(record.texts)
    for origin in gone:
        store.delete_texts(record.video_id, origin=origin)
        texts.pop(origin, None)
    payload = record.frame_payload()
    for r in results:
        if r.error:
            log.info("text of %s (%s) failed: %s", record.path, r.origin, r.error)
            store.delete_texts(record.video_id, origin=r.origin)
            texts[r.origin] = TextState(source=r.source, status="failed", signature=r.signature, lang=r.lang, error=r.error)
            continue
        n = store.replace_texts(payload, r.origin, r.source, r.segments, r.lang)
        texts[r.origin] = TextState(source=r.source, status="complete", signature=r.signature, lang=r.lang, segments=n)
    store.set_texts(record.video_id, texts)
    return texts
