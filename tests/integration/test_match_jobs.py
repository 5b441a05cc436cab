"""POST /match/jobs: a folder of clips matched in the cluster, followed on GET /jobs, its report
downloaded in every format and read back."""

from __future__ import annotations

import csv
import io
import time
import zipfile

import opentimelineio as otio
import pytest

from tests.integration.conftest import cut, forget_folder

pytestmark = [pytest.mark.integration]
KEY = {"X-API-Key": "secret"}


def clip_folder(service, shared_videos, name: str):
    """Under the library (where the service may read), two clips: a cut of an indexed video and a
    file that is no video."""
    folder = service.library / name
    (folder / "inner").mkdir(parents=True)
    cut(shared_videos / "chaplin_street_scene.mp4", folder / "inner" / "street.mp4", 5, 8)
    (folder / "notes.mp4").write_bytes(b"not a video at all" * 100)
    return folder


def wait_done(client, job_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while (job := client.get(f"/jobs/{job_id}").json()["job"])["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(1)
    return job


def test_a_folder_of_clips_is_matched_and_its_report_downloads(service, shared_videos):
    client = service.client
    folder = clip_folder(service, shared_videos, "zz_clips_http")
    try:
        assert client.post("/match/jobs", json={"paths": [str(folder)]}).status_code == 401
        refused = client.post("/match/jobs", json={"paths": ["/etc"]}, headers=KEY)
        assert refused.status_code == 403 and "outside the folders" in refused.json()["error"]
        assert client.post("/match/jobs", json={"paths": [str(folder / "none")]}, headers=KEY).status_code == 422
        started = client.post("/match/jobs", json={"paths": [str(folder)]}, headers=KEY)
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]["job_id"]
        assert started.json()["job"]["kind"] == "match"
        early = client.get(f"/jobs/{job_id}/report")
        assert early.status_code in (200, 409)  # 409 while it runs, with how far it got
        job = wait_done(client, job_id)
        assert job["state"] == "done", job
        assert job["progress"]["clips_done"] == job["progress"]["clips_total"] == 2
        assert job["summary"]["matched"] == 1 and job["summary"]["failed"][0]["path"].endswith("notes.mp4")
        listed = next(j for j in client.get("/jobs").json()["jobs"] if j["job_id"] == job_id)
        assert listed["kind"] == "match" and listed["state"] == "done"

        table = client.get(f"/jobs/{job_id}/report", params={"format": "csv"})
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        rows = {r["clip_path"].rsplit("/", 1)[1]: r for r in csv.DictReader(io.StringIO(table.text))}
        assert rows["street.mp4"]["source_path"].endswith("chaplin_street_scene.mp4")
        assert abs(float(rows["street.mp4"]["source_start_s"]) - float(rows["street.mp4"]["clip_start_s"]) - 5) <= 1
        assert rows["notes.mp4"]["status"] == "failed" and rows["notes.mp4"]["reason"]
        assert client.get(f"/jobs/{job_id}/report").json()["summary"]["clips"] == 2

        timelines = otio.adapters.read_from_string(client.get(f"/jobs/{job_id}/report", params={"format": "otio"}).text)
        assert [t.name for t in timelines] == ["street.mp4"]
        edls = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/report", params={"format": "edl"}).content))
        assert edls.namelist() == ["matches-chaplin_street_scene.edl"]
        assert "* MATCHED CLIP: street.mp4" in edls.read(edls.namelist()[0]).decode()

        assert client.get("/jobs/000000000000/report").status_code == 404
        assert client.get("/jobs/000000000000").status_code == 404
        assert client.get(f"/jobs/{job_id}/report", params={"format": "xlsx"}).status_code == 422
    finally:
        forget_folder(service, folder)


def test_one_clip_exports_as_an_opentimelineio_timeline(service, shared_videos, tmp_path):
    clip = cut(shared_videos / "bbb_opening_480p_30s.mp4", tmp_path / "bunny.mp4", 10, 6)
    with clip.open("rb") as f:
        answer = service.client.post("/match", files={"file": ("bunny.mp4", f)}).json()
    body = service.client.get("/export", params={"id": answer["export_id"], "format": "otio"})
    assert body.status_code == 200 and body.headers["content-type"].startswith("application/vnd.opentimelineio+json")
    timeline = otio.adapters.read_from_string(body.text)
    first = list(timeline.tracks[0])[0]
    assert first.name == "bbb_opening_480p_30s.mp4" and first.source_range.start_time.rate == 24.0
    assert abs(first.source_range.start_time.to_seconds() - (10 + answer["matches"][0]["query_start_s"])) <= 1
