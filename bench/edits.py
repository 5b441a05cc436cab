"""What a re-upload goes through, as ffmpeg commands: the edits bench/match_eval.py cuts its query
clips with, by category.

Each edit makes one clip from an excerpt of one source (compositions and some audio edits also
take another video) and says where the source sits in the clip (`Truth`). Every position, colour,
size and excerpt comes from the rng it is given, so one seed gives the same clips. Output is H.264
and AAC in mp4 (VP9 and Opus for `vp9`), at the source's size unless the edit sets one.
"""

from __future__ import annotations

import functools
import glob
import json
import math
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CATEGORIES = ("reframing", "overlays", "compositions", "time", "retimed_crops", "signal", "audio")
MIN_CLIP_S = 5.0
MAX_CLIP_S = 60.0  # a corpus may ask for shorter clips (bench/match_all_bench.py: 30)
H264 = ["-c:v", "libx264", "-preset", "veryfast"]
EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"  # x264's 4:2:0 wants even sides


@dataclass(frozen=True)
class Truth:
    """Where a stretch of the query comes from: seconds in the source and in the query. `speed` is
    source seconds per query second, so the stretch lasts (source span) / speed query seconds."""

    path: str
    source_start_s: float
    source_end_s: float
    query_start_s: float
    speed: float = 1.0

    @property
    def query_end_s(self) -> float:
        return self.query_start_s + (self.source_end_s - self.source_start_s) / self.speed


@dataclass(frozen=True)
class Video:
    path: Path
    duration_s: float
    width: int
    height: int
    has_audio: bool  # an audio stream, which may still be silent


def probe(path: Path) -> Video:
    entries = "format=duration:stream=codec_type,width,height"
    cmd = ["ffprobe", "-v", "error", "-of", "json", "-show_entries", entries, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    streams = info.get("streams", [])
    picture = next(s for s in streams if s.get("codec_type") == "video")
    return Video(
        path,
        float(info["format"]["duration"]),
        int(picture["width"]),
        int(picture["height"]),
        any(s.get("codec_type") == "audio" for s in streams),
    )


@dataclass
class Cut:
    """What one clip is made from."""

    source: Video
    out: Path
    rng: random.Random
    other: Video | None = None  # what the edit `needs`: footage, a sound track, a second source


@dataclass(frozen=True)
class Edit:
    name: str
    category: str
    make: Callable[[Cut], list[Truth]]  # writes cut.out and says where the source is in it
    # The clip's audio: "same" (the source's, re-encoded or tempo-changed), "none" or "other".
    audio: str = "same"
    # "footage": a video that is not indexed; "sound": another video's audio; "source": a second
    # indexed source
    needs: str | None = None
    needs_audio: bool = False  # drawn only from sources whose audio was fingerprinted
    suffix: str = "mp4"


def ffmpeg(args: list[str], out: Path) -> None:
    """ffmpeg into `out`, unless a previous run with the same seed already made it (--clips)."""
    if out.exists():
        return
    partial = out.with_name("partial-" + out.name)  # a killed run leaves no half clip to reuse
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(partial)], check=True)
    partial.rename(out)


def excerpt(
    rng: random.Random, length_s: float, lo: float = MIN_CLIP_S, hi: float | None = None
) -> tuple[float, float]:
    """(start, seconds) of a random stretch, shortened to fit the video."""
    seconds = min(rng.uniform(lo, MAX_CLIP_S if hi is None else hi), max(length_s - 1.0, 1.0))
    return round(rng.uniform(0, max(length_s - seconds, 0)), 2), round(seconds, 2)


def _seek(video: Video, start: float, seconds: float) -> list[str]:
    return ["-ss", str(start), "-t", str(seconds), "-i", str(video.path)]


def _whole(cut: Cut, start: float, seconds: float, at: float = 0.0) -> list[Truth]:
    return [Truth(str(cut.source.path), start, round(start + seconds, 3), at)]


def _rgb(rng: random.Random) -> str:
    return "0x" + "".join(f"{rng.randrange(256):02x}" for _ in range(3))


def _even(x: float) -> int:
    return max(2, int(x) // 2 * 2)


# A picture chain: a filter string, or one built from (rng, source, clip seconds).
Chain = str | Callable[[random.Random, Video, float], str]


def filtered(
    chain: Chain,
    args: tuple[str, ...] = (),
    af: str | Callable[[random.Random], str] | None = None,
) -> Callable[[Cut], list[Truth]]:
    """An edit that is one filter chain over one excerpt (and, given another video, its sound)."""

    def make(cut: Cut) -> list[Truth]:
        start, seconds = excerpt(cut.rng, cut.source.duration_s)
        vf = chain(cut.rng, cut.source, seconds) if callable(chain) else chain
        audio_filter = af(cut.rng) if callable(af) else af
        cmd = _seek(cut.source, start, seconds)
        if cut.other is not None:  # replaced audio
            loop = ["-stream_loop", "-1", "-i", str(cut.other.path)]
            cmd += [*loop, "-map", "0:v", "-map", "1:a", "-shortest"]
        cmd += ["-vf", f"{vf},{EVEN},format=yuv420p"]
        cmd += [] if "-c:v" in args else H264
        if "-an" not in args:
            cmd += ["-c:a", "libopus" if cut.out.suffix == ".webm" else "aac"]
            cmd += ["-af", audio_filter] if audio_filter and cut.source.has_audio else []
        ffmpeg([*cmd, *args], cut.out)
        return _whole(cut, start, seconds)

    return make


def complex_clip(inputs: list[str], graph: str, audio: str | None, seconds: float, out: Path):
    """`graph` labels its picture [v]; `audio` is a label or stream to map, or None."""
    maps = ["-map", "[v]"] + (["-map", audio, "-c:a", "aac"] if audio else [])
    ffmpeg([*inputs, "-filter_complex", graph, *maps, "-t", str(seconds), *H264], out)


# Reframing ------------------------------------------------------------------------------------


def aspect_crop(w: int, h: int) -> Chain:
    """The largest w:h crop, at a random place."""

    def chain(rng: random.Random, video: Video, seconds: float) -> str:
        x, y = round(rng.random(), 2), round(rng.random(), 2)
        ow, oh = f"trunc(min(iw,ih*{w}/{h})/2)*2", f"trunc(min(ih,iw*{h}/{w})/2)*2"
        return f"crop=w='{ow}':h='{oh}':x='(iw-ow)*{x}':y='(ih-oh)*{y}'"

    return chain


FIT_9X16 = "scale=720:1280:force_original_aspect_ratio=decrease:force_divisible_by=2"


def blur_fill(rng: random.Random, video: Video, seconds: float) -> str:
    return (
        "split[a][b];"
        "[a]scale=720:1280:force_original_aspect_ratio=increase,crop=720:1280,gblur=sigma=20[fill];"
        f"[b]{FIT_9X16}[picture];[fill][picture]overlay=(W-w)/2:(H-h)/2"
    )


def colour_fill(rng: random.Random, video: Video, seconds: float) -> str:
    return f"{FIT_9X16},pad=720:1280:trunc((ow-iw)/4)*2:trunc((oh-ih)/4)*2:color={_rgb(rng)}"


def mirror_fill(rng: random.Random, video: Video, seconds: float) -> str:
    """The picture at 720 wide between copies of itself flipped upside down (and, where the bands
    are taller than the picture, flipped back again), cut to 720x1280 around the middle copy."""
    tall = 720 * video.height / video.width - 2  # -2: what scale's rounding may take
    side = max(0, math.ceil((1280 / tall - 1) / 2))
    if side == 0:
        return "scale=720:-2,crop=720:1280"
    tiles = 2 * side + 1
    labels = [f"[t{i}]" for i in range(tiles)]
    flips = [i for i in range(tiles) if (i - side) % 2]
    graph = f"scale=720:-2,setsar=1,split={tiles}{''.join(labels)};"
    graph += "".join(f"[t{i}]vflip[f{i}];" for i in flips)
    stack = "".join(f"[f{i}]" if i in flips else labels[i] for i in range(tiles))
    return graph + f"{stack}vstack=inputs={tiles},crop=720:1280"


def letterbox_colour(rng: random.Random, video: Video, seconds: float) -> str:
    colour = "0x808080" if rng.random() < 0.3 else _rgb(rng)
    bar = rng.randrange(40, 100, 2)
    if rng.random() < 0.5:
        return f"scale=640:-2,pad=iw:ih+{2 * bar}:0:{bar}:color={colour}"
    return f"scale=-2:360,pad=iw+{2 * bar}:ih:{bar}:0:color={colour}"


def letterbox_blur(rng: random.Random, video: Video, seconds: float) -> str:
    """The picture squeezed to 70-85 % of its height (or width) in a frame of its own size, the
    bars showing the picture blurred: one axis only, so the bars are top/bottom or left/right."""
    k = round(rng.uniform(0.70, 0.85), 2)
    size = f"iw:trunc(ih*{k}/2)*2" if rng.random() < 0.5 else f"trunc(iw*{k}/2)*2:ih"
    return (
        f"split[a][b];[a]gblur=sigma=20[fill];[b]scale={size}[picture];"
        "[fill][picture]overlay=(W-w)/2:(H-h)/2"
    )


def asymmetric_crop(rng: random.Random, video: Video, seconds: float) -> str:
    """10-30 % cut in all, from one side, or unevenly from one side and its neighbour."""
    total = rng.uniform(0.10, 0.30)
    cut = dict.fromkeys(("left", "right", "top", "bottom"), 0.0)
    if rng.random() < 0.5:
        cut[rng.choice(list(cut))] = total
    else:
        major = rng.uniform(0.6, 0.85) * total
        across, along = rng.choice(["left", "right"]), rng.choice(["top", "bottom"])
        if rng.random() < 0.5:
            across, along = along, across
        cut[across], cut[along] = major, total - major
    w, h = 1 - cut["left"] - cut["right"], 1 - cut["top"] - cut["bottom"]
    return (
        f"crop=trunc(iw*{w:.3f}/2)*2:trunc(ih*{h:.3f}/2)*2:"
        f"trunc(iw*{cut['left']:.3f}):trunc(ih*{cut['top']:.3f})"
    )


def zoom_rotate(rng: random.Random, video: Video, seconds: float) -> str:
    """Zoom 1.1-1.2x and turn 2-5 degrees either way, cut back to the source's size; the zoom is
    raised where the picture's shape needs more for no corner to show."""
    angle = math.radians(rng.uniform(2, 5) * rng.choice([-1, 1]))
    shape = max(video.width / video.height, video.height / video.width)
    zoom = max(rng.uniform(1.1, 1.2), math.cos(angle) + shape * math.sin(abs(angle)) + 0.01)
    return (
        f"scale=trunc(iw*{zoom:.3f}/2)*2:-2,rotate={angle:.4f}:fillcolor=black"
        f":ow=trunc(iw/{zoom:.3f}/2)*2:oh=trunc(ih/{zoom:.3f}/2)*2"
    )


# Overlays -------------------------------------------------------------------------------------

CAPTIONS = (
    "wait for it",
    "nobody expected this",
    "watch till the end",
    "best moment ever",
    "this is so satisfying",
    "day three of trying",
    "you have to see this",
    "how did they do that",
)
CHANNELS = ("clipzone", "viralhub", "reposted", "dailyclips", "trendnow")


@functools.cache
def font() -> str | None:
    """A TrueType file for drawtext; None draws each word as a box instead."""
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans"], check=False, capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        found = ""
    if found and Path(found).is_file():
        return found
    return next(iter(sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))), None)


def text(words: str, x: int, y: int, size: int, colour: str, style: str = "") -> str:
    """`words` with the top left at (x, y); `style`: more drawtext options (':borderw=2...'),
    `enable` among them."""
    enable = next((o for o in style.split(":") if o.startswith("enable=")), None)
    if font():
        return (
            f"drawtext=fontfile='{font()}':text='{words}':x={x}:y={y}:fontsize={size}"
            f":fontcolor={colour}{style}"
        )
    boxes, left = [], x
    for word in words.split():
        width = text_width(word, size)
        boxes.append(f"drawbox=x={left}:y={y}:w={width}:h={size}:color={colour}:t=fill")
        boxes[-1] += f":{enable}" if enable else ""
        left += width + size // 2
    return ",".join(boxes)


def text_width(words: str, size: int) -> int:
    return int(0.55 * size * len(words))  # about right for a sans font


def fitting(words: str, size: int, width: int) -> int:
    """`size`, smaller where the words would not fit 90 % of `width`."""
    return max(8, min(size, int(0.9 * width / (0.55 * len(words)))))


def caption_bar(rng: random.Random, video: Video, seconds: float) -> str:
    bar = int(video.height * rng.uniform(0.15, 0.22))
    y = 0 if rng.random() < 0.5 else video.height - bar
    fill, ink = ("white", "black") if rng.random() < 0.5 else ("black", "white")
    words = rng.choice(CAPTIONS)
    size = fitting(words, int(bar * 0.45), video.width)
    x = (video.width - text_width(words, size)) // 2
    box = f"drawbox=x=0:y={y}:w=iw:h={bar}:color={fill}:t=fill"
    return f"{box},{text(words, x, y + (bar - size) // 2, size, ink)}"


def burnt_subtitles(rng: random.Random, video: Video, seconds: float) -> str:
    """Two lines near the bottom, white in a dark outline, new ones every 2 s."""
    size = max(10, int(video.height * 0.05))
    lines = []
    for a in range(0, math.ceil(seconds), 2):
        words = rng.sample(CAPTIONS, 2)
        for row, line in enumerate(words):
            line_size = fitting(line, size, video.width)
            x = (video.width - text_width(line, line_size)) // 2
            y = video.height - int((2.6 - 1.3 * row) * size) - size // 2
            style = f":borderw=2:bordercolor=black:enable='between(t,{a},{a + 2})'"
            lines.append(text(line, x, y, line_size, "white", style))
    return ",".join(lines)


def watermark(rng: random.Random, video: Video, seconds: float) -> str:
    """A see-through box with a channel name, 10-20 % of the width, in a random corner."""
    w = int(video.width * rng.uniform(0.10, 0.20))
    h = max(8, int(w * 0.35))
    margin = int(video.width * 0.02)
    x = margin if rng.random() < 0.5 else video.width - w - margin
    y = margin if rng.random() < 0.5 else video.height - h - margin
    fill, ink = ("white@0.45", "black@0.7") if rng.random() < 0.5 else ("black@0.45", "white@0.7")
    words = rng.choice(CHANNELS)
    size = fitting(words, int(h * 0.6), w)
    inside = text(words, x + (w - text_width(words, size)) // 2, y + (h - size) // 2, size, ink)
    return f"drawbox=x={x}:y={y}:w={w}:h={h}:color={fill}:t=fill,{inside}"


def sticker(rng: random.Random, video: Video, seconds: float) -> str:
    """One or two opaque boxes over 5-15 % of the picture in all."""
    count = rng.choice([1, 2])
    area = rng.uniform(0.05, 0.15) * video.width * video.height / count
    boxes = []
    for _ in range(count):
        w = min(video.width, int(math.sqrt(area * rng.uniform(0.7, 1.4))))
        h = min(video.height, int(area / w))
        x, y = rng.randint(0, video.width - w), rng.randint(0, video.height - h)
        boxes.append(f"drawbox=x={x}:y={y}:w={w}:h={h}:color={_rgb(rng)}:t=fill")
    return ",".join(boxes)


def reaction_face(cut: Cut) -> list[Truth]:
    """Unindexed footage at 25-35 % of the width in a corner of the source, the source's audio."""
    start, seconds = excerpt(cut.rng, cut.source.duration_s)
    width = _even(cut.source.width * cut.rng.uniform(0.25, 0.35))
    x, y = cut.rng.choice(["16", "W-w-16"]), cut.rng.choice(["16", "H-h-16"])
    inputs = _seek(cut.source, start, seconds) + ["-stream_loop", "-1", "-i", str(cut.other.path)]
    graph = (
        f"[1:v]scale={width}:-2,setsar=1[face];[0:v]setsar=1[main];"
        f"[main][face]overlay={x}:{y}:shortest=1,{EVEN},format=yuv420p[v]"
    )
    complex_clip(inputs, graph, "0:a?", seconds, cut.out)
    return _whole(cut, start, seconds)


# Compositions ---------------------------------------------------------------------------------


def picture_in_picture(cut: Cut) -> list[Truth]:
    """The source at half size over unindexed footage, in a random corner, the source's audio."""
    start, seconds = excerpt(cut.rng, cut.source.duration_s)
    x, y = cut.rng.choice(["16", "W-w-16"]), cut.rng.choice(["16", "H-h-16"])
    inputs = ["-stream_loop", "-1", "-i", str(cut.other.path), *_seek(cut.source, start, seconds)]
    graph = (
        "[0:v]scale=1280:720,setsar=1[bg];[1:v]scale=640:-2[fg];"
        f"[bg][fg]overlay={x}:{y}:shortest=1,format=yuv420p[v]"
    )
    complex_clip(inputs, graph, "1:a?", seconds, cut.out)
    return _whole(cut, start, seconds)


def side_by_side(stack: str) -> Callable[[Cut], list[Truth]]:
    """The source and unindexed footage next to each other ("hstack", both 360 high) or one above
    the other ("vstack", both 640 wide), the source on a random side, with its audio."""
    size = "-2:360" if stack == "hstack" else "640:-2"

    def make(cut: Cut) -> list[Truth]:
        start, seconds = excerpt(cut.rng, cut.source.duration_s)
        inputs = _seek(cut.source, start, seconds)
        inputs += ["-stream_loop", "-1", "-i", str(cut.other.path)]
        pair = "[s][o]" if cut.rng.random() < 0.5 else "[o][s]"
        graph = (
            # one frame rate: a stack of two rates is output at its time base's (1000 fps from wmv)
            f"[0:v]scale={size},setsar=1,fps=25[s];[1:v]scale={size},setsar=1,fps=25[o];"
            f"{pair}{stack}=inputs=2:shortest=1,{EVEN},format=yuv420p[v]"
        )
        complex_clip(inputs, graph, "0:a?", seconds, cut.out)
        return _whole(cut, start, seconds)

    return make


def partial(cut: Cut) -> list[Truth]:
    """The first 3-10 s of unindexed footage, then an excerpt of the source at the source's size;
    the source's audio, after silence."""
    start, seconds = excerpt(cut.rng, cut.source.duration_s)
    lead = round(min(cut.rng.uniform(3, 10), max(cut.other.duration_s - 0.1, 1.0)), 2)
    w, h = _even(cut.source.width), _even(cut.source.height)
    inputs = ["-t", str(lead), "-i", str(cut.other.path), *_seek(cut.source, start, seconds)]
    graph = "".join(
        f"[{i}:v]scale={w}:{h},setsar=1,fps=25,setpts=PTS-STARTPTS[v{i}];" for i in (0, 1)
    )
    if cut.source.has_audio:
        stereo = "aresample=44100,aformat=channel_layouts=stereo"
        graph += f"anullsrc=r=44100:cl=stereo,atrim=duration={lead}[a0];"
        graph += f"[1:a]{stereo},asetpts=PTS-STARTPTS[a1];"
        graph += "[v0][a0][v1][a1]concat=n=2:v=1:a=1[c][a];[c]format=yuv420p[v]"
    else:
        graph += "[v0][v1]concat=n=2:v=1:a=0,format=yuv420p[v]"
    complex_clip(inputs, graph, "[a]" if cut.source.has_audio else None, lead + seconds, cut.out)
    return _whole(cut, start, seconds, at=lead)


def two_sources(cut: Cut) -> list[Truth]:
    """Excerpts of two indexed sources one after the other (pictures only: their sound differs)."""
    parts = [(cut.source, *excerpt(cut.rng, cut.source.duration_s, 5, 30))]
    parts.append((cut.other, *excerpt(cut.rng, cut.other.duration_s, 5, 30)))
    inputs, chains = [], []
    for i, (video, start, seconds) in enumerate(parts):
        inputs += _seek(video, start, seconds)
        chains.append(f"[{i}:v]scale=640:360,setsar=1,fps=25,setpts=PTS-STARTPTS[v{i}];")
    graph = "".join(chains) + "[v0][v1]concat=n=2:v=1:a=0,format=yuv420p[v]"
    complex_clip(inputs, graph, None, sum(p[2] for p in parts), cut.out)
    (a, sa, la), (b, sb, lb) = parts
    return [
        Truth(str(a.path), sa, round(sa + la, 3), 0.0),
        Truth(str(b.path), sb, round(sb + lb, 3), la),
    ]


# Time -----------------------------------------------------------------------------------------


def any_speed(rng: random.Random) -> float:
    return rng.uniform(0.8, 1.25)


def speed(
    pick: Callable[[random.Random], float], then: Chain | None = None
) -> Callable[[Cut], list[Truth]]:
    """Played faster or slower, the audio tempo-changed (pitch kept): the clip covers
    speed x its length of the source; `then`, a reframing after it (a re-post cut to 9:16)."""

    def make(cut: Cut) -> list[Truth]:
        rate = round(pick(cut.rng), 3)
        # at least 5 s of clip where the source allows
        start, span = excerpt(cut.rng, cut.source.duration_s, lo=MIN_CLIP_S * max(1.0, rate))
        cmd = _seek(cut.source, start, span)
        reframe = then(cut.rng, cut.source, span / rate) if callable(then) else then
        steps = (f"setpts=(PTS-STARTPTS)/{rate}", reframe, EVEN, "format=yuv420p")
        vf = ",".join(step for step in steps if step)
        cmd += ["-vf", vf, *H264]
        cmd += ["-af", f"atempo={rate}", "-c:a", "aac"] if cut.source.has_audio else []
        ffmpeg(cmd, cut.out)
        return [Truth(str(cut.source.path), start, round(start + span, 3), 0.0, rate)]

    return make


def short_loop(cut: Cut) -> list[Truth]:
    """A 3-5 s excerpt three times over: one truth per repetition."""
    start, seconds = excerpt(cut.rng, cut.source.duration_s, 3, 5)
    sound = cut.source.has_audio
    streams = "".join(f"[{i}:v]" + (f"[{i}:a]" if sound else "") for i in range(3))
    graph = f"{streams}concat=n=3:v=1:a={int(sound)}[c]" + ("[a]" if sound else "")
    graph += f";[c]{EVEN},format=yuv420p[v]"
    inputs = _seek(cut.source, start, seconds) * 3
    complex_clip(inputs, graph, "[a]" if sound else None, 3 * seconds, cut.out)
    span = (str(cut.source.path), start, round(start + seconds, 3))
    return [Truth(*span, round(k * seconds, 3)) for k in range(3)]


# Signal ---------------------------------------------------------------------------------------


def colour_grade(rng: random.Random, video: Video, seconds: float) -> str:
    grades = [
        f"hue=h={rng.choice([-1, 1]) * rng.randint(30, 150)}",
        f"hue=s={rng.uniform(1.6, 2.2):.2f}",
        "curves=preset=vintage",
        "curves=preset=cross_process",
        "hue=s=0",
    ]
    return rng.choice(grades)


def crop_at(share: float) -> Chain:
    """`share` of each side cut, the crop at a random place."""
    keep = 1 - share

    def chain(rng: random.Random, video: Video, seconds: float) -> str:
        x, y = round(rng.random(), 2), round(rng.random(), 2)
        return f"crop=trunc(iw*{keep}/2)*2:trunc(ih*{keep}/2)*2:{x}*iw*{share}:{y}*ih*{share}"

    return chain


def noise(rng: random.Random, video: Video, seconds: float) -> str:
    return f"noise=alls={rng.randint(20, 30)}:allf=t"


def grey_noise(rng: random.Random, video: Video, seconds: float) -> str:
    return "hue=s=0," + noise(rng, video, seconds)


def combined(rng: random.Random, video: Video, seconds: float) -> str:
    """Flipped, cropped by 10 %, dropped to 10 fps and 360p (and CRF 38)."""
    return f"hflip,{crop_at(0.10)(rng, video, seconds)},fps=10,scale=-2:360"


def brightness_contrast(rng: random.Random, video: Video, seconds: float) -> str:
    b, c = rng.choice([-1, 1]) * 0.1, rng.choice([0.75, 1.25])
    return f"eq=brightness={b}:contrast={c}"


# Audio ----------------------------------------------------------------------------------------


def music_under(cut: Cut) -> list[Truth]:
    """The source's audio with another video's track 12 dB beneath it; picture 360p."""
    start, seconds = excerpt(cut.rng, cut.source.duration_s)
    inputs = _seek(cut.source, start, seconds) + ["-stream_loop", "-1", "-i", str(cut.other.path)]
    graph = (
        f"[0:v]scale=-2:360,{EVEN},format=yuv420p[v];[1:a]volume=-12dB[under];"
        "[0:a][under]amix=inputs=2:duration=first:dropout_transition=0[a]"
    )
    complex_clip(inputs, graph, "[a]", seconds, cut.out)
    return _whole(cut, start, seconds)


def quiet(rng: random.Random) -> str:
    return f"volume={rng.uniform(0.15, 0.3):.2f}"


LOW_BITRATE = ("-b:a", "24k", "-ac", "1", "-ar", "22050")
TELEPHONE = "highpass=f=300,lowpass=f=3000"
VP9 = ("-c:v", "libvpx-vp9", "-b:v", "400k", "-deadline", "realtime", "-cpu-used", "8")

EDITS: dict[str, Edit] = {
    e.name: e
    for e in [
        # reframing
        Edit("crop_15pct", "reframing", filtered(crop_at(0.15))),
        Edit("letterbox", "reframing", filtered("scale=640:-2,pad=iw:ih+120:0:60")),
        Edit("pillarbox", "reframing", filtered("scale=-2:360,pad=iw+160:ih:80:0")),
        Edit("vertical_9x16", "reframing", filtered(aspect_crop(9, 16))),
        Edit("square_1x1", "reframing", filtered(aspect_crop(1, 1))),
        Edit("crop_4x5", "reframing", filtered(aspect_crop(4, 5))),
        Edit("vertical_blur_fill", "reframing", filtered(blur_fill)),
        Edit("vertical_colour_fill", "reframing", filtered(colour_fill)),
        Edit("vertical_mirror_fill", "reframing", filtered(mirror_fill)),
        Edit("letterbox_colour", "reframing", filtered(letterbox_colour)),
        Edit("letterbox_blur", "reframing", filtered(letterbox_blur)),
        Edit("asymmetric_crop", "reframing", filtered(asymmetric_crop)),
        Edit("zoom_rotate", "reframing", filtered(zoom_rotate)),
        # overlays
        Edit("caption_bar", "overlays", filtered(caption_bar)),
        Edit("burnt_subtitles", "overlays", filtered(burnt_subtitles)),
        Edit("watermark", "overlays", filtered(watermark)),
        Edit("sticker", "overlays", filtered(sticker)),
        Edit("reaction_face", "overlays", reaction_face, needs="footage"),
        # compositions
        Edit("picture_in_picture", "compositions", picture_in_picture, needs="footage"),
        Edit("two_sources", "compositions", two_sources, audio="none", needs="source"),
        Edit("side_by_side", "compositions", side_by_side("hstack"), needs="footage"),
        Edit("stacked", "compositions", side_by_side("vstack"), needs="footage"),
        Edit("partial", "compositions", partial, needs="footage"),
        # time
        Edit("fps_24", "time", filtered("fps=24")),
        Edit("fps_30", "time", filtered("fps=30")),
        Edit("fps_12_dropped", "time", filtered("fps=12")),
        Edit("speed_0_8", "time", speed(lambda rng: 0.8)),
        Edit("speed_1_25", "time", speed(lambda rng: 1.25)),
        Edit("speed_random", "time", speed(any_speed)),
        # Cut to another shape and retimed, as re-posts often are: two edits at once.
        Edit("speed_vertical_9x16", "retimed_crops", speed(any_speed, then=aspect_crop(9, 16))),
        Edit("speed_crop_15pct", "retimed_crops", speed(any_speed, then=crop_at(0.15))),
        Edit("short_loop", "time", short_loop),
        # signal
        Edit("h264_crf35", "signal", filtered("null", ("-crf", "35"))),
        Edit("vp9", "signal", filtered("null", VP9), suffix="webm"),
        Edit("360p", "signal", filtered("scale=-2:360")),
        Edit("240p", "signal", filtered("scale=-2:240")),
        Edit("heavy_compression", "signal", filtered("scale=-2:240", ("-crf", "45"))),
        Edit("blur", "signal", filtered("gblur=sigma=2")),
        Edit("brightness_contrast", "signal", filtered(brightness_contrast)),
        Edit("colour_grade", "signal", filtered(colour_grade)),
        Edit("noise", "signal", filtered(noise)),
        Edit("grey_noise", "signal", filtered(grey_noise)),
        Edit("hflip", "signal", filtered("hflip")),
        Edit("combined", "signal", filtered(combined, ("-crf", "38"))),
        # audio: picture 360p, from sources with audio
        Edit("audio_low_bitrate", "audio", filtered("scale=-2:360", LOW_BITRATE), needs_audio=True),
        Edit(
            "audio_removed",
            "audio",
            filtered("scale=-2:360", ("-an",)),
            audio="none",
            needs_audio=True,
        ),
        Edit(
            "audio_replaced",
            "audio",
            filtered("scale=-2:360"),
            audio="other",
            needs="sound",
            needs_audio=True,
        ),
        Edit("audio_quiet", "audio", filtered("scale=-2:360", af=quiet), needs_audio=True),
        Edit("audio_filtered", "audio", filtered("scale=-2:360", af=TELEPHONE), needs_audio=True),
        Edit("audio_music_under", "audio", music_under, needs="sound", needs_audio=True),
    ]
}
