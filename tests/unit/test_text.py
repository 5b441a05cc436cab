"""Text of videos without Ray: subtitles read in every form they come in, words placed on their
second, queries parsed, lists fused, and which text each video needs."""

import subprocess

import pytest

from vidsearch.config import Settings
from vidsearch.media.probe import AudioTrack, SubtitleTrack, VideoMetadata
from vidsearch.results import Moment, Quote, TranscriptLine
from vidsearch.search import fuse
from vidsearch.store import VideoRecord, ids
from vidsearch.store.records import TextState
from vidsearch.text import subtitles as subs
from vidsearch.text.query import TextQuery, as_srt, as_vtt
from vidsearch.text.segments import TextSegment, Word, locate
from vidsearch.text.speech import sentences
from vidsearch.text.tasks import plan_texts

SRT = """1
00:00:01,000 --> 00:00:03,500
The <i>crown jewel</i>
of the collection.

2
00:00:04,000 --> 00:00:06,000
{\\an8}Second line

3
00:00:07,000 --> 00:00:0x,000
broken timing

4
00:00:09,000 --> 00:00:08,000
backwards
"""

VTT = """WEBVTT
Kind: captions

00:01.000 --> 00:03.000 align:start
<v Ann>Hello <b>there</b>

note
00:00:04.500 --> 00:00:06.000
Café au lait
"""

ASS = """[Script Info]
Title: x

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.50,0:00:03.00,Default,,0,0,0,,{\\i1}Hello,{\\i0} world\\Nagain
Dialogue: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,
"""


def test_subrip_webvtt_and_ass_are_read_with_markup_removed():
    srt = subs.parse(SRT.encode())
    assert [(c.start, c.end, c.text) for c in srt] == [
        (1.0, 3.5, "The crown jewel of the collection."), (4.0, 6.0, "Second line"),
    ]
    assert [(c.start, c.text) for c in subs.parse(VTT.encode())] == [(1.0, "Hello there"), (4.5, "Café au lait")]
    assert [(c.start, c.end, c.text) for c in subs.parse(ASS.encode())] == [(1.5, 3.0, "Hello, world again")]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig", "utf-16-le"])
def test_subtitles_in_older_encodings_are_read(encoding):
    cues = subs.parse(VTT.replace("Hello", "Señor").encode(encoding))
    assert [c.text for c in cues] == ["Señor there", "Café au lait"]


@pytest.mark.parametrize("data", [b"", b"   \n", b"just some notes\nwithout any timing\n", b"\x00\x01\x02\xff" * 50])
def test_a_file_with_no_readable_cue_is_reported(data):
    with pytest.raises(subs.SubtitleError):
        subs.parse(data, name="x.srt")


def test_overlapping_cues_are_kept_and_a_repeated_line_is_one():
    text = "1\n00:00:01,000 --> 00:00:04,000\nfirst\n\n2\n00:00:02,000 --> 00:00:05,000\nsecond\n\n" \
           "3\n00:00:04,500 --> 00:00:06,000\nsecond\n"
    assert [(c.start, c.end, c.text) for c in subs.parse(text.encode())] == [(1.0, 4.0, "first"), (2.0, 6.0, "second")]


def test_sidecars_beside_a_video_with_their_languages(tmp_path):
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"")
    for name in ("talk.srt", "talk.en.vtt", "talk.fr.ass", "talk.notes.srt", "other.srt", "talk.en.txt"):
        (tmp_path / name).write_text(SRT)
    found = {(s.lang, s.path.split("/")[-1]) for s in subs.sidecars(str(video))}
    assert found == {("und", "talk.srt"), ("en", "talk.en.vtt"), ("fr", "talk.fr.ass")}
    src = next(s for s in subs.sidecars(str(video)) if s.lang == "en")
    before = subs.signature(src)
    (tmp_path / "talk.en.vtt").write_text(VTT)
    assert subs.signature(src) != before and src.source == "subtitle:en"


def test_a_text_track_is_read_and_a_picture_track_is_reported(tmp_path):
    srt = tmp_path / "s.srt"
    srt.write_text(SRT.split("\n\n3\n")[0] + "\n")
    mkv = tmp_path / "with_subs.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=8", "-i", str(srt),
         "-map", "0", "-map", "1", "-c:v", "libx264", "-c:s", "srt", "-metadata:s:s:0", "language=eng", str(mkv)],
        check=True,
    )
    from vidsearch.media.probe import probe

    meta = probe(str(mkv))
    [src] = subs.tracks(str(mkv), meta.subtitle_tracks)
    assert src.lang == "en" and src.origin == f"track:{meta.subtitle_tracks[0].index}"
    cues = subs.read_source(src, meta.subtitle_tracks[0].codec)
    assert [c.text for c in cues] == ["The crown jewel of the collection.", "Second line"]
    with pytest.raises(subs.SubtitleError, match="pictures rather than text"):
        subs.read_source(src, "hdmv_pgs_subtitle")


def test_words_land_on_their_own_second():
    said = TextSegment(10.0, 14.0, "Here the crown jewels are kept.", [
        Word("Here", 10.0, 10.3), Word("the", 10.3, 10.5), Word("crown", 10.6, 11.0),
        Word("jewels", 11.0, 11.6), Word("are", 11.7, 11.9), Word("kept.", 12.0, 12.5),
    ])
    second, marks = locate(said, "crown jewel", phrase=True)
    assert second == 10.6 and [said.text[s:e] for s, e in marks] == ["crown", "jewels"]
    second, marks = locate(said, "kept jewels")
    assert second == 11.0 and [said.text[s:e] for s, e in marks] == ["jewels", "kept"]
    cue = TextSegment(20.0, 24.0, "aaaa bbbb cccc dddd")  # no word times: placed by position
    assert locate(cue, "cccc")[0] == pytest.approx(20.0 + 4 * 10 / 19)  # 10 of 19 characters in
    assert locate(cue, "zzzz") == (20.0, [])


def test_long_transcript_windows_become_sentences():
    words = [Word(w, i, i + 0.5) for i, w in enumerate("One two. Three four five? Six".split())]
    assert [(s.start, s.text) for s in sentences(words)] == [(0, "One two."), (2, "Three four five?"), (5, "Six")]
    unpunctuated = [Word("a", 0.0, 0.3), Word("b", 0.4, 0.6), Word("c", 1.6, 1.9)]
    assert [s.text for s in sentences(unpunctuated)] == ["a b", "c"]  # split at the second's pause


def test_queries_keep_their_quoted_phrases():
    q = TextQuery.parse('the "crown jewel" at “the tower”')
    assert q.phrases == ("crown jewel", "the tower") and q.words == "the crown jewel at the tower"
    assert TextQuery.parse('"unclosed quote').phrases == () and TextQuery.parse('"unclosed quote').words == "unclosed quote"


def test_fusion_joins_a_picture_and_its_words_and_weighs_sources():
    def quote(text: str) -> Quote:
        return Quote(text=text, marks=[(0, 1)], source="speech", start_s=0.0, end_s=1.0)

    visual = [Moment(video_id="a", path="/a", timestamp_s=10.0, score=0.3, matched=["visual"]),
              Moment(video_id="b", path="/b", timestamp_s=5.0, score=0.2, matched=["visual"])]
    said = [Moment(video_id="a", path="/a", timestamp_s=11.2, score=7.0, matched=["said"], quote=quote("x")),
            Moment(video_id="c", path="/c", timestamp_s=1.0, score=3.0, matched=["said"], quote=quote("y"))]
    fused = fuse({"visual": visual, "said": said}, {}, 10)
    # b and c tie (each second in its list): the words win it.
    assert [(f.video_id, f.matched) for f in fused] == [("a", ["visual", "said"]), ("c", ["said"]), ("b", ["visual"])]
    assert fused[0].timestamp_s == 11.2 and fused[0].quote.text == "x"  # the words' second
    assert fused[0].scores == {"visual": 0.3, "said": 7.0}
    assert visual[0].scores is None and visual[0].score == 0.3  # the inputs are left as they were
    only_words = fuse({"visual": visual, "said": said}, {"visual": 0}, 10)
    assert [f.video_id for f in only_words] == ["a", "c"] and only_words[0].matched == ["said"]
    heavy = fuse({"visual": visual, "said": said}, {"said": 3}, 10, method="weighted")
    assert [f.video_id for f in heavy] == ["a", "c", "b"]
    assert all(f.thumbnail_url.startswith(f"/videos/{f.video_id}/thumbnail?t=") for f in heavy)


def test_transcripts_export_as_subrip_and_webvtt():
    rows = [TranscriptLine(start_s=1.5, end_s=3.25, text="Hello", source="speech"),
            TranscriptLine(start_s=3661.0, end_s=3662.001, text="Late", source="speech")]
    assert as_srt(rows) == "1\n00:00:01,500 --> 00:00:03,250\nHello\n\n2\n01:01:01,000 --> 01:01:02,001\nLate\n\n"
    assert as_vtt(rows).startswith("WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nHello\n\n")
    assert [c.text for c in subs.parse(as_srt(rows).encode())] == ["Hello", "Late"]


META = VideoMetadata(
    container="mov,mp4", duration_s=30.0, width=320, height=240, coded_width=320, coded_height=240, fps=25,
    variable_frame_rate=False, video_codec="h264", audio_tracks=[AudioTrack(index=1, codec="aac")],
    subtitle_tracks=[SubtitleTrack(index=2, codec="mov_text", language="eng")],
)


def test_each_video_gets_the_text_it_lacks(tmp_path):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    (tmp_path / "a.en.srt").write_text(SRT)
    r = VideoRecord(video_id=ids.video_id("a"), path=str(video), checksum="a", size_bytes=1, status="complete",
                    metadata=META, audio="fingerprinted")
    [task] = plan_texts([r], Settings(), "tiny.en")
    assert task.speech and {src.origin for src, _, _ in task.read} == {"track:2", f"file:{tmp_path}/a.en.srt"}
    # Read once, nothing is left to do until the sidecar or the model changes.
    r.texts = {src.origin: TextState(source=src.source, status="complete", signature=sig) for src, _, sig in task.read}
    r.texts["speech"] = TextState(source="speech", status="complete", signature="tiny.en")
    assert plan_texts([r], Settings(), "tiny.en") == []
    [task] = plan_texts([r], Settings(), "small")
    assert task.speech and not task.read
    (tmp_path / "a.en.srt").write_text(VTT)
    [task] = plan_texts([r], Settings(), "tiny.en")
    assert [src.origin for src, _, _ in task.read] == [f"file:{tmp_path}/a.en.srt"] and not task.speech
    (tmp_path / "a.en.srt").unlink()
    [task] = plan_texts([r], Settings(), None)  # no model: speech kept, the removed sidecar dropped
    assert task.gone == [f"file:{tmp_path}/a.en.srt"] and not task.speech
    silent = r.model_copy(update={"audio": "silent", "texts": {}})
    assert not any(t.speech for t in plan_texts([silent], Settings(), "tiny.en"))
    assert plan_texts([r.model_copy(update={"status": "failed"})], Settings(), "tiny.en") == []


def test_a_failing_transcription_fails_only_that_source_with_its_reason(store, tmp_path):
    """A real model on a file whose audio cannot be decoded: speech fails with the reason; the
    video's subtitles, read in the same task, are written."""
    from vidsearch.config import SpeechSettings
    from vidsearch.text.speech import SpeechModelUnavailable, Transcriber, resolve_speech_model
    from vidsearch.text.tasks import TextTask, read_subtitles, transcribe, write_results

    try:
        model = resolve_speech_model(None)
    except SpeechModelUnavailable as e:
        pytest.skip(str(e))
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000)  # a header and nothing to decode
    (tmp_path / "broken.en.srt").write_text(SRT)
    r = VideoRecord(video_id=ids.video_id("broken"), path=str(video), checksum="broken", size_bytes=4012,
                    status="complete", metadata=META, audio="fingerprinted")
    store.put_video(r)
    [src] = subs.sidecars(str(video))
    task = TextTask(r.video_id, r.path, 30.0, read=[(src, None, subs.signature(src))], speech=True)
    results = read_subtitles(task) + [transcribe(task, Transcriber(model, SpeechSettings()))]
    texts = write_results(store, r, results, [])
    assert texts["speech"].status == "failed" and "cannot decode the audio" in texts["speech"].error
    assert texts[src.origin].status == "complete" and texts[src.origin].segments == 2
    stored = store.get_video(r.video_id).texts
    assert stored["speech"].error == texts["speech"].error and store.count_texts(r.video_id) == 2
