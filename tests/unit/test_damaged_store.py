"""A damaged or foreign data dir gives a clear error that names it, not a traceback."""

import pytest

from vidsearch.config import Settings
from vidsearch.store import StoreError, open_store


def test_a_file_where_the_data_dir_should_be(tmp_path):
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot use .*edge for the embedded store: Not a directory"):
        open_store(Settings(data_dir=tmp_path / "data"))


def test_another_programs_folder(tmp_path):
    edge = tmp_path / "data" / "edge"
    edge.mkdir(parents=True)
    (edge / "vidsearch_frames.json").write_text("<html>not ours</html>")
    with pytest.raises(StoreError, match="not a vidsearch store's description.*--data-dir"):
        open_store(Settings(data_dir=tmp_path / "data"))


def test_damaged_segments(tmp_path):
    data = tmp_path / "data"
    open_store(Settings(data_dir=data)).close()
    for segment in (data / "edge" / "vidsearch_frames" / "segments").iterdir():
        for f in segment.rglob("*"):
            if f.is_file():
                f.write_bytes(b"\x00garbage")
    (data / "edge" / "vidsearch_frames" / "segments" / "junk").mkdir()
    with pytest.raises(StoreError, match="cannot open the embedded store .*damaged or not a vidsearch store"):
        open_store(Settings(data_dir=data))
