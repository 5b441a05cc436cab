"""Result sets kept for export, as every replica of the service sees them, and their files."""

import json
import os

from vidsearch.export import ResultSets, export

MATCH = {"video_id": "v1", "path": "/lib/a.mp4", "score": 0.9, "source_start_s": 20.0, "source_end_s": 30.0,
         "query_start_s": 0.0, "query_end_s": 10.0, "audio": {"verified": True}}


def test_a_set_put_by_one_replica_is_read_by_another(tmp_path):
    one, other = ResultSets(tmp_path / "exports"), ResultSets(tmp_path / "exports")
    export_id = one.put([MATCH])
    assert other.get(export_id) == [MATCH]
    assert other.get("0" * 16) is None


def test_ids_are_only_ids(tmp_path):
    sets = ResultSets(tmp_path / "exports")
    (tmp_path / "secret.json").write_text("[1]")
    for bad in ("../secret", "..%2Fsecret", "", "X" * 16, sets.put([]) + "/"):
        assert sets.get(bad) is None


def test_only_the_latest_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(ResultSets, "KEEP", 3)
    sets = ResultSets(tmp_path)
    ids = []
    for i in range(5):
        ids.append(sets.put([{"n": i}]))
        os.utime(tmp_path / f"{ids[-1]}.json", (i, i))  # one after another, whatever the clock's grain
    assert len(list(tmp_path.glob("*.json"))) == 3
    assert [sets.get(i) for i in ids] == [None, None, [{"n": 2}], [{"n": 3}], [{"n": 4}]]


def test_formats():
    body, media = export([MATCH], "json")
    assert json.loads(body)["results"] == [MATCH] and media == "application/json"
    body, _ = export([MATCH], "csv")
    assert body.splitlines()[0].startswith("path,") and "True" in body
    body, _ = export([MATCH], "edl")
    assert "00:00:20:00 00:00:30:00" in body
