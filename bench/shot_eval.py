"""Shot-boundary precision and recall against a corpus of known joins (bench/shot_corpus.py).

    python bench/shot_eval.py CORPUS_DIR [--decoder pyav|decord] [--tolerance 0.25] [--fit] [--json]

Each video is decoded once, as the index job decodes it (1 fps samples, every frame seen by the
detector). A found boundary matches a true one of any kind within the tolerance, one to one,
nearest first; a cut is found within the tolerance of its first frame, a gradual transition
within the tolerance of its span (TRECVID's rule: its visible turn, e.g. the black of a fade
through black, need not be at the span's midpoint). Figures per kind: recall over the
true boundaries of that kind (cut, or gradual: dissolve, fade through black or white), precision
over the found boundaries that matched one of that kind plus the unmatched ones the detector
called that kind. `--fit` searches the thresholds that do not change what is computed per frame,
on this corpus, and prints the best; fit on one corpus and report on another.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import probe
from vidsearch.media.shots import ShotDetector, ShotParams

GRID = {
    "cut_min": [0.06, 0.08, 0.10, 0.14],
    "cut_ratio": [2.0, 3.0, 4.0],
    "gradual_min": [0.15, 0.2, 0.25, 0.3],
    "gradual_ratio": [1.5, 2.0, 3.0],
}


def decode(corpus: Path, decoder: str) -> tuple[list[tuple[dict, ShotDetector]], float, int]:
    truth = json.loads((corpus / "truth.json").read_text())
    out, spent, frames = [], 0.0, 0
    for video in truth["videos"]:
        path = str(corpus / video["file"])
        meta = probe(path)
        detector = ShotDetector(meta.fps)
        started = time.perf_counter()
        for _ in iter_frames(path, meta, decoder=decoder, shots=detector):
            pass
        spent += time.perf_counter() - started
        frames += len(detector)
        out.append((video, detector))
    return out, spent, frames


def score(videos: list[tuple[dict, ShotDetector]], params: ShotParams, tolerance: float) -> dict:
    counts = {k: {"truth": 0, "found": 0, "matched": 0} for k in ("cut", "gradual")}
    errors: dict[str, list[float]] = {"cut": [], "gradual": []}
    by_transition: dict[str, list[int]] = {}
    for video, detector in videos:
        detector.params = params
        found = detector.boundaries()
        truth = video["boundaries"]
        pairs = sorted(
            (gap, fi, ti)
            for fi, f in enumerate(found) for ti, t in enumerate(truth)
            if (gap := _gap(f.second, t)) <= tolerance
        )
        used_f, used_t = set(), {}
        for gap, fi, ti in pairs:
            if fi not in used_f and ti not in used_t:
                used_f.add(fi)
                used_t[ti] = gap
        for ti, t in enumerate(truth):
            kind = "cut" if t["kind"] == "cut" else "gradual"
            counts[kind]["truth"] += 1
            by_transition.setdefault(t["kind"], [0, 0])[1] += 1
            if ti in used_t:
                counts[kind]["matched"] += 1
                counts[kind]["found"] += 1
                by_transition[t["kind"]][0] += 1
                errors[kind].append(used_t[ti])
        for fi, f in enumerate(found):
            if fi not in used_f:
                counts[f.kind]["found"] += 1
    out = {}
    for kind, c in counts.items():
        p = c["matched"] / c["found"] if c["found"] else 1.0
        r = c["matched"] / c["truth"] if c["truth"] else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        errs = sorted(errors[kind])
        out[kind] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3), **c,
                     "median_error_s": round(errs[len(errs) // 2], 3) if errs else None}
    out["recall_by_transition"] = {k: f"{m}/{n}" for k, (m, n) in sorted(by_transition.items())}
    return out


def _gap(second: float, truth: dict) -> float:
    """How far a found boundary is from a true one: from a cut's frame, or from a span."""
    return max(truth["start_s"] - second, second - truth["end_s"], 0.0)


def fit(videos, tolerance: float) -> tuple[ShotParams, dict]:
    """The thresholds with the best mean of the two F1s (cuts weigh as much as transitions)."""
    best = None
    for values in itertools.product(*GRID.values()):
        params = replace(ShotParams(), **dict(zip(GRID, values, strict=True)))
        result = score(videos, params, tolerance)
        key = (result["cut"]["f1"] + result["gradual"]["f1"]) / 2
        if best is None or key > best[0]:
            best = (key, params, result)
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--decoder", default="pyav", choices=["pyav", "decord"])
    parser.add_argument("--tolerance", type=float, default=0.25)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    videos, spent, frames = decode(args.corpus, args.decoder)
    report = {"corpus": args.corpus.name, "videos": len(videos), "frames": frames, "decoder": args.decoder,
              "decode_with_detector_s": round(spent, 1), "tolerance_s": args.tolerance}
    report["default"] = score(videos, ShotParams(), args.tolerance)
    if args.fit:
        params, result = fit(videos, args.tolerance)
        report["fitted"] = {"params": asdict(params), **result}
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
