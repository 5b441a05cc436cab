import hashlib

import fsspec
import pytest

from vidsearch.media.files import checksum, discover, local_copy, sniff_container


def test_sniff_known_containers(video_factory):
    mp4 = video_factory("a.mp4", seconds=1, audio=False)
    mkv = video_factory("a.mkv", seconds=1, audio=False)
    assert sniff_container(mp4.read_bytes()[:512]) == "mp4/mov"
    assert sniff_container(mkv.read_bytes()[:512]) == "matroska/webm"
    assert sniff_container(b"hello, I am text\n" * 40) is None


def test_discover_by_content_and_name(tmp_path, video_factory):
    src = video_factory("b.mp4", seconds=1, audio=False)
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "nested" / "deeper" / "clip.mp4").write_bytes(src.read_bytes())
    (tmp_path / "no_extension").write_bytes(src.read_bytes())  # found by content
    (tmp_path / "fake.mp4").write_text("not a video")  # kept: it claims to be one
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.mp4").write_bytes(src.read_bytes())
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "in_hidden_folder.mp4").write_bytes(src.read_bytes())
    found = {c.path.rsplit("/", 1)[-1]: c for c in discover([str(tmp_path)])}
    assert set(found) == {"clip.mp4", "no_extension", "fake.mp4"}
    assert found["clip.mp4"].size_bytes == src.stat().st_size


def test_discover_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(discover([str(tmp_path / "nope")]))


def test_checksum_and_remote_staging(video_factory):
    src = video_factory("c.mp4", seconds=1, audio=False)
    data = src.read_bytes()
    with fsspec.open("memory://bucket/c.mp4", "wb") as f:
        f.write(data)
    assert checksum(str(src)) == checksum("memory://bucket/c.mp4") == hashlib.sha256(data).hexdigest()
    found = [c.path for c in discover(["memory://bucket"])]
    assert len(found) == 1 and found[0].startswith("memory://") and checksum(found[0]) == checksum(str(src))
    with local_copy("memory://bucket/c.mp4") as local:
        assert open(local, "rb").read() == data
    assert not __import__("os").path.exists(local)
