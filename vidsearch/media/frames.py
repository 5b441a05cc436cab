"""Decoding sampled frames, streamed: decord first, PyAV when decord fails or stalls on a file.

Memory stays bounded: frames are scaled inside the decoder to fit `max_side` and read `chunk` at a
time, so a 4K or a two-hour video costs the same few megabytes as a short one. A video can be
decoded in segments (`first`, `end` sample indexes), so that long videos spread over workers.

Every sample time yields exactly one frame, or decoding fails: the count of frames of a video is
known before it is decoded, which is what lets the indexer tell a finished video from a cut one.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vidsearch.media.probe import MediaError, VideoMetadata
from vidsearch.media.shots import ShotDetector, plane_signature, rgb_signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    index: int  # position in the sampling schedule: 0, 1, 2, ...
    second: float  # presentation time of the decoded frame
    image: np.ndarray  # H x W x 3 uint8 RGB, upright, aspect preserved


def sample_times(duration_s: float, fps: float) -> np.ndarray:
    """Times at which to sample: every 1/fps seconds from 0, strictly inside the video."""
    count = max(1, int(np.ceil(duration_s * fps - 1e-6)))
    return np.arange(count, dtype=np.float64) / fps


def end_slack_s(duration_s: float) -> float:
    """How far before its announced end a video may stop: containers often overstate duration
    (an audio track outlasting the picture); a larger gap means the file is cut short."""
    return 2.0 + 0.02 * duration_s


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Even dimensions fitting in a max_side square with the aspect kept; never upscales."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def iter_frames(
    path: str,
    meta: VideoMetadata,
    fps: float = 1.0,
    max_side: int = 384,
    chunk: int = 16,
    chunk_timeout_s: float = 60.0,
    decoder: str = "decord",
    first: int = 0,
    end: int | None = None,
    shots: ShotDetector | None = None,
) -> Iterator[Frame]:
    """Yield the frames of samples first..end-1 at `fps`, upright, in order.

    decoder="decord" tries decord and continues with PyAV from the first frame decord could not
    give; decoder="pyav" uses PyAV alone. Raises MediaError when the data stops short. `shots`,
    when given, is fed every decoded frame from about a second before the first sample on.
    """
    all_times = sample_times(meta.duration_s, fps)
    end = len(all_times) if end is None else min(end, len(all_times))
    times = all_times[first:end]
    done = 0
    last: Frame | None = None
    if decoder == "decord":
        # decord applies the display rotation itself, so it is asked for the upright size.
        upright_size = scaled_size(meta.width, meta.height, max_side)
        try:
            for frame in _decord_frames(path, times, upright_size, chunk, chunk_timeout_s, shots):
                last = Frame(first + frame.index, frame.second, frame.image)
                yield last
                done += 1
        except _DecordFailed as e:
            log.warning("decord failed on %s at %.1f s (%s); continuing with PyAV", path, times[min(done, len(times) - 1)], e)
    coded_size = scaled_size(meta.coded_width, meta.coded_height, max_side)
    if shots is not None and done:
        shots = None  # decord fed it until it failed; a second pass from there would repeat frames
    for frame in _pyav_frames(path, times, done, coded_size, shots):
        last = _upright(Frame(first + frame.index, frame.second, frame.image), meta.rotation)
        yield last
        done += 1
    if done < len(times):
        decoded_until = last.second if last else (times[0] if first else 0.0)
        if last is None or meta.duration_s - times[done] > end_slack_s(meta.duration_s):
            raise MediaError(
                f"truncated or corrupt: frames decode only up to {decoded_until:.1f} s "
                f"of the {meta.duration_s:.1f} s the file announces"
            )
        # The picture ended a little before the container's duration: a player shows the last
        # frame there, and so do we.
        for index in range(done, len(times)):
            yield Frame(first + index, last.second, last.image)


def _upright(frame: Frame, rotation: int) -> Frame:
    if rotation == 0:
        return frame
    # np.rot90 turns counter-clockwise; rotation is clockwise.
    image = np.ascontiguousarray(np.rot90(frame.image, k=-(rotation // 90)))
    return Frame(frame.index, frame.second, image)


class _DecordFailed(Exception):
    pass


def _decord_frames(
    path: str, times: np.ndarray, size: tuple[int, int], chunk: int, timeout_s: float, shots: ShotDetector | None
) -> Iterator[Frame]:
    try:
        import decord
    except ImportError as e:  # decord ships no wheels for some platforms
        raise _DecordFailed(f"decord unavailable: {e}") from None
    # A stalled decord call cannot be interrupted; the deadline lets us abandon it and move on.
    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="decord")
    try:
        reader = _call(pool, timeout_s, decord.VideoReader, path, width=size[0], height=size[1])
        starts = _call(pool, timeout_s, lambda: reader.get_frame_timestamp(range(len(reader)))[:, 0])
        if len(starts) == 0:
            raise _DecordFailed("no frames")
        # The frame showing at time t is the last one that started at or before it (VFR-safe);
        # past the last frame there is nothing to show, which the caller judges.
        wanted = np.searchsorted(starts, times + 1e-4, side="right") - 1
        wanted = wanted[: np.searchsorted(times, starts[-1] + 1.0 / 2, side="right")]
        wanted = np.clip(wanted, 0, len(starts) - 1)
        if shots is not None:
            yield from _decord_every_frame(pool, timeout_s, reader, starts, wanted, times, shots)
            return
        for lo in range(0, len(wanted), chunk):
            idx = wanted[lo : lo + chunk]
            batch = _call(pool, timeout_s, lambda i=idx: reader.get_batch(list(i)).asnumpy())
            for j, image in enumerate(batch):
                yield Frame(lo + j, float(starts[idx[j]]), image)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _decord_every_frame(pool, timeout_s, reader, starts, wanted, times, shots: ShotDetector) -> Iterator[Frame]:
    """Every frame from a second before the first sample to the last one, in pieces of 32 (decord
    colour-converts every frame it decodes anyway; this copies them out too, for the detector)."""
    if not len(wanted):
        return
    lo, hi = int(np.searchsorted(starts, times[0] - 1.0, side="left")), int(wanted[-1]) + 1
    sample = 0
    for piece in range(lo, hi, 32):
        idx = list(range(piece, min(piece + 32, hi)))
        batch = _call(pool, timeout_s, lambda i=idx: reader.get_batch(i).asnumpy())
        for j, image in zip(idx, batch):
            shots.add(float(starts[j]), rgb_signature(image))
            while sample < len(wanted) and wanted[sample] == j:
                yield Frame(sample, float(starts[j]), image)
                sample += 1


def _call(pool: cf.ThreadPoolExecutor, timeout_s: float, fn, *args, **kwargs):
    future = pool.submit(fn, *args, **kwargs)
    try:
        return future.result(timeout=timeout_s)
    except cf.TimeoutError:
        raise _DecordFailed(f"no progress within {timeout_s:.0f} s") from None
    except Exception as e:  # decord raises DECORDError, RuntimeError or ValueError on bad data
        raise _DecordFailed(str(e).splitlines()[0] if str(e) else type(e).__name__) from None


def _pyav_frames(
    path: str, times: np.ndarray, start: int, size: tuple[int, int], shots: ShotDetector | None = None
) -> Iterator[Frame]:
    """Frames for times[start:], indexed within `times`; stops early if the data ends. `shots`
    gets the signature of every frame decoded, read from its planes (no conversion)."""
    import av
    from av.video.reformatter import VideoReformatter

    if start >= len(times):
        return
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as e:
        raise MediaError(f"cannot open video: {e}") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        if times[start] > 1.0:
            container.seek(int((times[start] + base - 1.0) / stream.time_base), stream=stream)
        index, previous = start, None
        scaler = VideoReformatter()
        try:
            for decoded in container.decode(stream):
                if decoded.pts is None:
                    continue
                t = float(decoded.pts * stream.time_base) - base
                if shots is not None and t >= times[start] - 1.0:
                    shots.add(t, plane_signature(decoded))
                # Emit the frame on screen at each sample time: the last one starting at or before.
                while index < len(times) and t > times[index] + 1e-4:
                    # Right after a seek there may be no earlier frame: the nearest one stands in.
                    shown = previous if previous is not None else (t, decoded)
                    yield Frame(index, shown[0], _rgb(shown[1], size, scaler))
                    index += 1
                if index >= len(times):
                    return
                previous = (t, decoded)
        except av.FFmpegError as e:
            log.warning("PyAV stopped on %s at %.1f s: %s", path, times[min(index, len(times) - 1)], e)
        # The stream ended: its last frame stays on screen for at most one more frame interval.
        if previous is not None and index < len(times):
            yield Frame(index, previous[0], _rgb(previous[1], size, scaler))


def _rgb(frame, size: tuple[int, int], scaler) -> np.ndarray:
    # Convert only the frames kept: scaling and colour conversion dominate otherwise. One scaler
    # for all of a video's frames, on this thread: a frame's own (to_ndarray) sets up its scaling
    # filters and a thread pool again each time, which took 2.5 ms a frame against 0.55.
    return scaler.reformat(frame, format="rgb24", width=size[0], height=size[1], threads=1).to_ndarray()


_END = object()


def decoded_ahead(frames: Iterator[Frame], depth: int = 8) -> Iterator[Frame]:
    """`frames`, decoded on a thread of their own at most `depth` ahead of the caller: the decoder
    lets go of the GIL, so the frames before are described while the next are decoded. Memory
    stays bounded by `depth`; an error in decoding is raised here, in order."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(_END)
        except BaseException as e:  # handed to the caller, who raises it
            put(e)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=decode, name="decode-ahead", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
