"""Speech search against ground truth: phrase recall@1 and timestamp error on synthesised speech.

    python bench/speech_eval.py VIDEO... [--sentences 60] [--seed 0] [--voice en-us] [--speed 150]
                                [--beam 1] [--json]

Builds the corpus of bench/speech_corpus.py (sentences said at known seconds over real videos),
transcribes each video with the configured speech model (the bundled tiny.en by default), writes
the transcripts to an Edge store and searches each sentence's phrase, quoted and not. A phrase is
found when its own video comes first, and placed when that hit's second is within 1 s of when
the phrase is said. Prints recall@1, the share placed within 1 s, the timestamp error
percentiles, and transcription speed as x real time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import speech_corpus  # noqa: E402


def evaluate(videos: list[Path], n: int, seed: int, beam: int, voice: str, speed: int) -> dict:
    from vidsearch.config import QdrantSettings, SpeechSettings
    from vidsearch.media.probe import probe
    from vidsearch.store import ids
    from vidsearch.store.edge import EdgeStore
    from vidsearch.text.query import text_moments
    from vidsearch.text.speech import Transcriber, resolve_speech_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        truth = speech_corpus.build(tmp / "corpus", videos, n, seed, voice=voice, speed=speed)
        speech = SpeechSettings() if beam is None else SpeechSettings(beam_size=beam)
        beam = speech.beam_size
        transcriber = Transcriber(resolve_speech_model(None), speech)
        store = EdgeStore.open(QdrantSettings(), tmp / "store", 8)
        audio_s = spent = 0.0
        for name in sorted({t.video for t in truth}):
            path = str(tmp / "corpus" / name)
            duration = probe(path).duration_s
            started = time.perf_counter()
            transcript = transcriber.transcribe(path, duration)
            spent += time.perf_counter() - started
            audio_s += duration
            payload = {"video_id": ids.video_id(name), "path": path}
            store.replace_texts(payload, "speech", "speech", transcript.segments, transcript.lang)
        rows = []
        for t in truth:
            for quoted in (False, True):
                q = f'"{t.phrase}"' if quoted else t.phrase
                hits = text_moments(store, q, 5, None)
                top = hits[0] if hits else None
                found = top is not None and top.video_id == ids.video_id(t.video)
                error = abs(top.timestamp_s - t.second) if found else None
                rows.append({"phrase": t.phrase, "video": t.video, "quoted": quoted, "found": found, "error_s": error})
        store.close()
    out = {"sentences": len(truth), "videos": len({t.video for t in truth}), "seed": seed, "voice": voice,
           "speed": speed, "beam": beam, "x_real_time": round(audio_s / spent, 1)}
    for quoted in (False, True):
        mine = [r for r in rows if r["quoted"] == quoted]
        errors = np.array([r["error_s"] for r in mine if r["found"]])
        key = "quoted" if quoted else "words"
        out[f"{key}_recall_at_1"] = round(sum(r["found"] for r in mine) / len(mine), 3)
        out[f"{key}_within_1s"] = round(float(np.mean(errors <= 1.0)) if len(errors) else 0.0, 3)
        out[f"{key}_error_p50_s"] = round(float(np.percentile(errors, 50)), 3) if len(errors) else None
        out[f"{key}_error_p95_s"] = round(float(np.percentile(errors, 95)), 3) if len(errors) else None
    out["missed"] = sorted({r["phrase"] for r in rows if not r["found"]})
    out["words_recall_by_video"] = {
        v: round(sum(r["found"] for r in rows if r["video"] == v and not r["quoted"])
                 / sum(1 for r in rows if r["video"] == v and not r["quoted"]), 2)
        for v in sorted({r["video"] for r in rows})
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--sentences", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam", type=int, default=None, help="beam size (default: speech.beam_size)")
    parser.add_argument("--voice", default="en-us")
    parser.add_argument("--speed", type=int, default=150)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = evaluate(args.videos, args.sentences, args.seed, args.beam, args.voice, args.speed)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
