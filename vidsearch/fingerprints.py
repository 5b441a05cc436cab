"""Chromaprint audio fingerprints: computing them with fpcalc and storing them compactly.

A fingerprint is a sequence of 32-bit items, one per ~0.124 s of audio (chromaprint's default
algorithm: 4096-sample frames at 11025 Hz, a third overlapping).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Literal

import acoustid
import numpy as np

ITEM_SECONDS = 4096 / 3 / 11025
AudioStatus = Literal["fingerprinted", "silent", "too_short", "none", "failed"]


@dataclass(frozen=True)
class AudioFingerprint:
    status: AudioStatus
    items: np.ndarray | None = None  # uint32
    duration_s: float | None = None
    detail: str | None = None

    def encoded(self) -> str | None:
        return encode_items(self.items) if self.items is not None else None


def encode_items(items: np.ndarray) -> str:
    return base64.b64encode(np.asarray(items, dtype="<u4").tobytes()).decode("ascii")


def decode_items(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)


def fpcalc_command() -> str:
    return os.environ.get(acoustid.FPCALC_ENVVAR, acoustid.FPCALC_COMMAND)


def fingerprint_audio(path: str, has_audio: bool = True, timeout_s: float = 600.0) -> AudioFingerprint:
    """Fingerprint the whole of a file's first audio track; never raises for bad audio."""
    if not has_audio:
        return AudioFingerprint("none", detail="no audio stream")
    # -length 0: the default stops after 120 s. fpcalc may exit non-zero at the end of stream after
    # printing a valid fingerprint, so the output decides, not the exit code.
    cmd = [fpcalc_command(), "-raw", "-json", "-length", "0", path]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        return AudioFingerprint("failed", detail="fpcalc is not installed (libchromaprint-tools)")
    except subprocess.TimeoutExpired:
        return AudioFingerprint("failed", detail=f"fpcalc took longer than {timeout_s:.0f} s")
    try:
        out = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        out = {}
    items = out.get("fingerprint")
    if not items:
        err = done.stderr.decode(errors="replace")
        if "Empty fingerprint" in err:
            return AudioFingerprint("too_short", detail="audio too short to fingerprint")
        if "Could not find any audio stream" in err:
            return AudioFingerprint("none", detail="no audio stream")
        last = [ln for ln in err.splitlines() if ln.strip()]
        return AudioFingerprint("failed", detail=last[-1] if last else "fpcalc gave no fingerprint")
    array = np.asarray(items, dtype=np.uint64).astype(np.uint32)
    duration = float(out.get("duration") or len(array) * ITEM_SECONDS)
    if len(np.unique(array)) == 1:
        # Digital silence gives one repeated item: it would "match" every other silent track.
        return AudioFingerprint("silent", array, duration, "audio track is silent")
    return AudioFingerprint("fingerprinted", array, duration)
