"""Videos that say known sentences at known seconds: the ground truth of speech search.

Sentences are synthesised with espeak-ng and mixed, each at a chosen second, into the audio of
real videos (their own sound kept, quieter, where they have any). Each sentence holds a phrase of
two words found in no other sentence; the second at which the phrase starts is known from the
length of the synthesised words before it.

    python bench/speech_corpus.py OUT_DIR VIDEO... [--sentences N] [--seed S]

writes OUT_DIR/*.mp4 and OUT_DIR/truth.json: [{"video", "sentence", "phrase", "second"}].
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

RATE = 22050  # espeak-ng's
ADJECTIVES = (
    "amber", "ancient", "bitter", "brave", "bright", "broken", "calm", "clever", "cold", "crimson",
    "curious", "distant", "eager", "empty", "famous", "fierce", "gentle", "golden", "happy", "heavy",
    "hidden", "hollow", "honest", "humble", "hungry", "lazy", "little", "lonely", "lucky", "merry",
    "narrow", "noble", "patient", "polite", "purple", "quiet", "rapid", "rusty", "silver", "sleepy",
    "smooth", "solemn", "steady", "strange", "sudden", "tender", "tiny", "velvet", "wicked", "wooden",
)
NOUNS = (
    "anchor", "badger", "basket", "blanket", "bridge", "bucket", "candle", "carpet", "castle", "cherry",
    "compass", "cottage", "dragon", "engine", "falcon", "feather", "forest", "garden", "hammer", "harbor",
    "jacket", "kettle", "ladder", "lantern", "lemon", "meadow", "mirror", "monkey", "needle", "orchard",
    "parrot", "pencil", "pepper", "pillow", "pirate", "rabbit", "ribbon", "river", "rocket", "saddle",
    "tiger", "tunnel", "turtle", "violin", "wagon", "wallet", "window", "winter", "wizard", "zebra",
)
OPENINGS = ("Yesterday I saw the", "Everyone talked about the", "My sister painted the", "We found the",
            "Nobody expected the", "They carried the", "Look at the", "I still remember the")
ENDINGS = ("near the old station.", "after the long dinner.", "in the morning light.", "before the storm came.",
           "on the kitchen table.", "at the end of the road.", "during the summer holiday.", "under the bright moon.")


@dataclass(frozen=True)
class Spoken:
    video: str  # file name in OUT_DIR
    sentence: str
    phrase: str
    second: float  # when the phrase's first word starts


def sentences(n: int, seed: int) -> list[tuple[str, str, str]]:
    """(opening, phrase, ending) triples; no phrase shares a word with another."""
    rng = random.Random(seed)
    adjectives, nouns = list(ADJECTIVES), list(NOUNS)
    rng.shuffle(adjectives)
    rng.shuffle(nouns)
    n = min(n, len(adjectives), len(nouns))
    return [(rng.choice(OPENINGS), f"{adjectives[i]} {nouns[i]}", rng.choice(ENDINGS)) for i in range(n)]


def speak(text: str, folder: Path, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    path = folder / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768


def voiced(samples: np.ndarray, threshold: float = 0.01) -> tuple[int, int]:
    """First and last sample above `threshold`: espeak pads its output with silence."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return (int(loud[0]), int(loud[-1]) + 1) if len(loud) else (0, 0)


def build(
    out: Path, videos: list[Path], n_sentences: int, seed: int = 0, gap_s: float = 2.0,
    voice: str = "en-us", speed: int = 150,
) -> list[Spoken]:
    out.mkdir(parents=True, exist_ok=True)
    triples = sentences(n_sentences, seed)
    per_video = -(-len(triples) // len(videos))
    truth: list[Spoken] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for v, video in enumerate(videos):
            mine = triples[v * per_video : (v + 1) * per_video]
            if not mine:
                break
            name = f"spoken_{v:02d}_{video.stem}.mp4"
            track, placed = [], []
            at = 1.0  # seconds into the new audio track
            for opening, phrase, ending in mine:
                sentence = f"{opening} {phrase} {ending}"
                audio = speak(sentence, tmp, voice, speed)
                start, end = voiced(audio)
                first, last = voiced(speak(opening, tmp, voice, speed))
                lead_in = last - first
                track.append((at, audio[start:end]))
                placed.append(Spoken(name, sentence, phrase, round(at + lead_in / RATE, 3)))
                at += (end - start) / RATE + gap_s
            speech = np.zeros(int((at + 1.0) * RATE), dtype=np.float32)
            for second, audio in track:
                i = int(second * RATE)
                speech[i : i + len(audio)] += audio
            wav = tmp / "speech.wav"
            with wave.open(str(wav), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes((np.clip(speech, -1, 1) * 32767).astype(np.int16).tobytes())
            _mux(video, wav, out / name, duration_s=at + 1.0)
            truth += placed
    (out / "truth.json").write_text(json.dumps([asdict(t) for t in truth], indent=1))
    return truth


def _mux(video: Path, speech: Path, target: Path, duration_s: float) -> None:
    """The video's picture (looped to the speech's length) with the speech over its own sound."""
    has_audio = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0", str(video)],
        capture_output=True, text=True,
    ).stdout.strip()
    cmd = ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(video), "-i", str(speech)]
    if has_audio:
        audio = "[0:a:0]volume=0.25,aresample=22050[bed];[bed][1:a]amix=inputs=2:duration=longest:normalize=0[a]"
        cmd += ["-filter_complex", audio, "-map", "0:v:0", "-map", "[a]"]
    else:
        cmd += ["-map", "0:v:0", "-map", "1:a"]
    cmd += ["-t", f"{duration_s:.2f}", "-vf", "scale=-2:240", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast",
            "-c:a", "aac", "-b:a", "96k", "-shortest", str(target)]
    subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth = build(args.out, args.videos, args.sentences, args.seed)
    print(f"{len(truth)} sentences in {len({t.video for t in truth})} videos under {args.out}")


if __name__ == "__main__":
    main()
