"""The web page in a real browser: Debian's Chromium, headless, driven by Selenium.

Search and watch, match a clip, the library and its index jobs, bad uploads, phone width. With
VIDSEARCH_SCREENSHOTS set to a folder (docs/screenshots for the README), each view is saved there.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import forget_folder, cut

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PLAYABLE = re.compile(r"\.(mp4|webm)$")  # Chromium plays these; not MJPEG .mov, nor every .mkv
KEY = "secret"  # the service fixture's API key
LONG_S = 1200  # a job on it still writes for half a minute after its first batch (256 frames)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER}: `make system-deps` installs chromium and chromium-driver",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install -e '.[test]'")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: Chromium's sandbox cannot start as root in a container.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(arg)
    # Browser and driver are both given, so Selenium Manager has nothing to fetch; offline makes sure.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=DriverService(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def wait(browser, timeout: float = 60) -> WebDriverWait:
    # Lists are re-rendered while polled; an element that went stale is simply looked up again.
    return WebDriverWait(browser, timeout, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def open_view(browser, service, view: str) -> None:
    browser.get("about:blank")  # a fresh page: going to another #view alone would keep the old state
    browser.get(f"{service.url}/#{view}")
    wait(browser).until(lambda d: d.execute_script("return document.readyState") == "complete")


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def screenshot(browser, name: str) -> None:
    folder = os.environ.get("VIDSEARCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


def search(browser, query: str) -> list:
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query, Keys.ENTER)
    # The status reads "Searching…" until the answer is shown, then "N moments…" or "No moments…".
    wait(browser).until(lambda d: "moment" in text_of(d, "search-status"))  # "N scenes with matching moments…" too
    return browser.find_elements(By.CSS_SELECTOR, "#results .result")


def wait_for_thumbnails(browser, first: int = 4) -> None:
    wait(browser).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#results img')].slice(0, arguments[0])"
        ".every(i => i.complete && i.naturalWidth > 0)", first))


def current_time(browser, video) -> float:
    return browser.execute_script("return arguments[0].currentTime", video)


def playing_at(browser, video_id: str) -> float:
    """The player's position once it has loaded `video_id` and made its first seek."""
    player = browser.find_element(By.ID, "player")
    wait(browser).until(lambda d: player.get_attribute("data-video-id") == video_id
                        and player.get_attribute("data-state") != "loading")
    assert player.get_attribute("data-state") == "ready", text_of(browser, "watch-error")
    return current_time(browser, player)


def row_status(browser, video_id: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"tr[data-video-id='{video_id}']").get_attribute("data-status")


def first_job(browser) -> dict | None:
    """The newest job as one snapshot: the list is re-rendered on every poll, so elements go stale."""
    return browser.execute_script("""
        const job = document.querySelector('#job-list .job');
        return job && {state: job.dataset.state, text: job.innerText,
                       progress: job.querySelector('progress') !== null};""")


def test_page_and_its_routes(service):
    client = service.client
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in page.text
    for asset, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert not re.search(r"https?://", response.text)  # nothing from elsewhere: works offline
    assert not re.search(r"https?://", page.text)
    assert client.get("/static/missing.js").json() == {"error": "Not Found"}

    jobs = client.get("/jobs").json()
    assert isinstance(jobs["jobs"], list) and jobs["roots"]
    key = {"X-API-Key": KEY}
    assert client.post("/index", json={"paths": ["/etc"]}).status_code == 401
    refused = client.post("/index", json={"paths": ["/etc"]}, headers=key)
    assert refused.status_code == 403 and "outside the folders" in refused.json()["error"]
    assert client.post("/index", json={"paths": ["videos"]}, headers=key).status_code == 422
    assert client.post("/index", json={"paths": []}, headers=key).status_code == 422
    missing = client.post("/index", json={"paths": [f"{jobs['roots'][0]}/no-such.mp4"]}, headers=key)
    assert missing.status_code == 422 and "no such file" in missing.json()["error"]
    assert client.post("/videos/0000/reindex", headers=key).status_code == 404


def test_search_then_watch_from_the_results_second(service, browser):
    open_view(browser, service, "search")
    results = search(browser, "a car on a road")
    assert results and all(r.find_element(By.CSS_SELECTOR, ".name").text for r in results)
    wait_for_thumbnails(browser)
    screenshot(browser, "search")

    # A moment a few seconds in, so that starting there is not the player's default.
    target = next((r for r in results if float(r.get_attribute("data-t")) >= 2
                   and PLAYABLE.search(r.get_attribute("data-path"))), None)
    assert target, "no result Chromium can play beyond 0:02"
    second = float(target.get_attribute("data-t"))
    target.click()
    assert abs(playing_at(browser, target.get_attribute("data-video-id")) - second) <= 1
    player = browser.find_element(By.ID, "player")
    assert player.get_attribute("src").endswith(f"/videos/{target.get_attribute('data-video-id')}/stream")
    wait(browser).until(lambda d: current_time(d, player) > second + 0.3)  # and it plays on
    screenshot(browser, "watch")

    # Keyboard: arrows move between results, Enter plays the focused one.
    results[0].send_keys(Keys.ARROW_RIGHT)
    assert browser.switch_to.active_element == results[1]
    other = next(r for r in results if PLAYABLE.search(r.get_attribute("data-path"))
                 and r.get_attribute("data-video-id") != target.get_attribute("data-video-id"))
    other.send_keys(Keys.ENTER)
    second = float(other.get_attribute("data-t"))
    assert abs(playing_at(browser, other.get_attribute("data-video-id")) - second) <= 1


def test_words_said_are_found_quoted_and_the_transcript_follows_playback(service, browser):
    said = next(s for s in service.spoken if s.video.endswith(".mp4"))
    open_view(browser, service, "search")
    results = search(browser, said.phrase)
    top = results[0]
    assert top.get_attribute("data-path").endswith("/" + said.video)
    badges = [b.text for b in top.find_elements(By.CSS_SELECTOR, ".badge")]
    marks = [m.text.lower().strip(".,") for m in top.find_elements(By.CSS_SELECTOR, ".quote mark")]
    assert "said" in badges and said.phrase.split()[1] in marks, (badges, marks)
    wait_for_thumbnails(browser)
    screenshot(browser, "search-said")

    top.click()
    assert abs(playing_at(browser, top.get_attribute("data-video-id")) - said.second) <= 1
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript-lines .line"))
    current = wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#transcript-lines .line[aria-current='true']"))
    assert said.phrase.split()[1] in current.text.lower(), current.text
    screenshot(browser, "transcript")

    # Clicking a line plays from it; the current line follows.
    lines = browser.find_elements(By.CSS_SELECTOR, "#transcript-lines .line")
    last = lines[-1]
    start = float(last.get_attribute("data-start"))
    last.click()
    player = browser.find_element(By.ID, "player")
    wait(browser).until(lambda d: abs(current_time(d, player) - start) <= 1)
    wait(browser).until(lambda d: d.find_element(
        By.CSS_SELECTOR, "#transcript-lines .line[aria-current='true']").get_attribute("data-start") == str(last.get_attribute("data-start")))

    # Searching within the video's transcript keeps only the lines with the words, marked.
    box = browser.find_element(By.ID, "transcript-q")
    box.send_keys(said.phrase.split()[1], Keys.ENTER)
    wait(browser).until(lambda d: "line" in text_of(d, "transcript-status"))
    found = browser.find_elements(By.CSS_SELECTOR, "#transcript-lines .line")
    assert len(found) == 1 and found[0].find_elements(By.TAG_NAME, "mark")


def test_filters_and_grouping(service, browser):
    vp9 = {v["video_id"] for v in service.client.get("/videos").json()["videos"]
           if v["metadata"] and v["metadata"]["video_codec"] == "vp9"}
    open_view(browser, service, "search")
    browser.find_element(By.CSS_SELECTOR, ".filters summary").click()
    browser.find_element(By.NAME, "codec").send_keys("vp9")
    Select(browser.find_element(By.NAME, "group")).select_by_value("video")
    results = search(browser, "the moon")
    assert results and {r.get_attribute("data-video-id") for r in results} <= vp9
    groups = browser.find_elements(By.CSS_SELECTOR, "#results .group")
    assert groups
    for group in groups:
        assert len({r.get_attribute("data-video-id") for r in group.find_elements(By.CSS_SELECTOR, ".result")}) == 1


def test_scenes_are_the_results_more_like_one_is_a_click_and_the_player_marks_them(service, browser):
    open_view(browser, service, "search")
    results = search(browser, "a bunny in a meadow")  # one result per scene: the page's default
    assert results and "scene" in text_of(browser, "search-status")
    spans = browser.find_elements(By.CSS_SELECTOR, "#results .result .scene-span")
    assert len(spans) == len(results)
    for span in spans:
        assert float(span.get_attribute("data-start")) < float(span.get_attribute("data-end"))
    screenshot(browser, "scenes")

    first = browser.find_element(By.CSS_SELECTOR, "#results li")
    anchor = first.find_element(By.CSS_SELECTOR, ".result")
    anchor = (anchor.get_attribute("data-video-id"), anchor.get_attribute("data-t"))  # the list is replaced
    first.find_element(By.CSS_SELECTOR, "button.more").click()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .anchor"))
    assert browser.find_element(By.CSS_SELECTOR, "#results .anchor").text.startswith("Scenes like")
    assert "like " in text_of(browser, "search-status") and not text_of(browser, "search-error")
    again = browser.find_elements(By.CSS_SELECTOR, "#results .result")
    assert again and not any((r.get_attribute("data-video-id"), r.get_attribute("data-t")) == anchor for r in again)

    # The watch view marks each scene along a strip; a mark plays its scene from its start.
    video = next(v for v in service.client.get("/videos").json()["videos"] if v["path"].endswith("/bbb_opening_480p_30s.mp4"))
    scenes = service.client.get(f"/videos/{video['video_id']}/scenes").json()["scenes"]
    open_view(browser, service, "library")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#videos tr.copy"))
    browser.find_element(By.ID, "hide-copies").click()  # its row may be the copy of its 720p twin
    browser.find_element(By.CSS_SELECTOR, f"tr[data-video-id='{video['video_id']}'] button").click()
    playing_at(browser, video["video_id"])
    marks = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#scene-marks .scene-mark"))
    assert len(marks) == len(scenes) and browser.find_element(By.ID, "scene-strip").is_displayed()
    strip = browser.find_element(By.ID, "scene-marks")
    drawn_at = (marks[2].rect["x"] - strip.rect["x"]) / strip.rect["width"]
    assert abs(drawn_at - scenes[2]["start_s"] / scenes[-1]["end_s"]) < 0.02
    marks[2].click()
    player = browser.find_element(By.ID, "player")
    wait(browser).until(lambda d: abs(current_time(d, player) - scenes[2]["start_s"]) < 1.5)
    wait(browser).until(lambda d: text_of(d, "scene-label").startswith(f"Scene 3 of {len(scenes)}"))
    assert marks[2].get_attribute("aria-current") == "true"
    screenshot(browser, "scene-marks")


def test_the_library_groups_its_copies_and_lists_one_row_per_footage(service, browser):
    open_view(browser, service, "library")
    groups = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#copy-groups .copy-group"))
    named = sorted(g.find_element(By.CSS_SELECTOR, ".name").text for g in groups)
    assert len(named) == 2 and "bbb_opening_480p_30s.mp4" in named[1] and "apollo" in named[0], named
    copies = browser.find_elements(By.CSS_SELECTOR, "#videos tr.copy")
    assert len(copies) == 2 and not any(row.is_displayed() for row in copies)
    assert all("copy of" in row.get_attribute("textContent") for row in copies)
    screenshot(browser, "library-copies")
    browser.find_element(By.ID, "hide-copies").click()
    assert all(row.is_displayed() for row in browser.find_elements(By.CSS_SELECTOR, "#videos tr.copy"))


def test_search_with_a_picture(service, browser, tmp_path):
    frame = tmp_path / "frame.png"
    source = service.library / "tears_of_steel_battle_clip.webm"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "41", "-i", str(source), "-frames:v", "1", str(frame)], check=True
    )
    open_view(browser, service, "search")
    browser.find_element(By.ID, "image-file").send_keys(str(frame))
    wait(browser).until(lambda d: "like frame.png" in text_of(d, "search-status"))
    top = browser.find_element(By.CSS_SELECTOR, "#results .result")
    assert top.find_element(By.CSS_SELECTOR, ".name").text == source.name
    assert abs(float(top.get_attribute("data-t")) - 41) <= 1


def test_match_shows_where_the_clip_sits_and_plays_it_beside_the_source(service, browser, tmp_path):
    source = service.library / "tears_of_steel_battle_clip.webm"
    clip = cut(source, tmp_path / "clip.mp4", start=30, seconds=20)
    open_view(browser, service, "match")
    browser.find_element(By.ID, "clip-file").send_keys(str(clip))
    assert "Matching clip.mp4" in text_of(browser, "match-status")  # visible while the service works
    wait(browser, 240).until(lambda d: "Matching" not in text_of(d, "match-status"))
    assert not text_of(browser, "match-error")
    best = browser.find_element(By.CSS_SELECTOR, "#matches .match")

    assert best.find_element(By.TAG_NAME, "h3").text == source.name
    region = best.find_element(By.CSS_SELECTOR, ".region")
    start = float(region.get_attribute("data-start"))
    assert abs(start - 30) <= 1 and abs(float(region.get_attribute("data-end")) - 50) <= 1.5
    video = service.client.get(f"/videos/{best.get_attribute('data-video-id')}").json()
    duration = video["metadata"]["duration_s"]
    track = best.find_element(By.CSS_SELECTOR, ".track")
    drawn_at = (region.rect["x"] - track.rect["x"]) / track.rect["width"]
    assert abs(drawn_at - start / duration) < 0.02  # the highlight is drawn where the clip sits
    assert "audio verified" in best.text and "visual" in best.text
    edl = browser.find_element(By.CSS_SELECTOR, "#match-export a[data-format=edl]").get_attribute("href")
    exported = service.client.get(edl)
    assert exported.status_code == 200 and source.name in exported.text

    best.find_element(By.XPATH, ".//button[normalize-space()='Compare side by side']").click()
    browser.find_element(By.ID, "play-aligned").click()
    source_player = browser.find_element(By.ID, "source-player")
    wait(browser).until(lambda d: source_player.get_attribute("data-state") == "aligned")
    clip_at, source_at = browser.execute_script(
        "return ['clip-player', 'source-player'].map(id => document.getElementById(id).currentTime)"
    )
    assert abs(source_at - start) <= 1 and clip_at <= 1
    screenshot(browser, "match")


def test_bad_uploads_get_clear_messages(service, browser, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list\n" * 20)
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"plain text, not a video" * 10)
    open_view(browser, service, "match")
    alert = browser.find_element(By.ID, "match-error")
    assert alert.get_attribute("role") == "alert"

    browser.find_element(By.ID, "clip-file").send_keys(str(notes))
    wait(browser).until(lambda d: "notes.txt is not a video" in alert.text)  # told before uploading
    browser.find_element(By.ID, "clip-file").send_keys(str(fake))
    wait(browser).until(lambda d: "The upload is not a video" in alert.text)  # the service's own reason

    open_view(browser, service, "search")
    browser.find_element(By.ID, "image-file").send_keys(str(notes))
    wait(browser).until(lambda d: "notes.txt is not an image" in text_of(d, "search-error"))


def test_library_lists_status_and_failure_reasons_and_deletes_with_the_key(service, browser):
    from vidsearch.config import load_settings
    from vidsearch.store import ids
    from batch_jobs.cluster import cluster_store
    from vidsearch.store.records import VideoRecord

    store = cluster_store(load_settings(service.config))  # this process is a driver of the service's cluster
    broken = VideoRecord(
        video_id=ids.video_id("f" * 64), path=str(service.library / "broken.mp4"), checksum="f" * 64,
        size_bytes=512, status="failed", error="moov atom not found: the file was cut short",
    )
    store.put_video(broken)
    try:
        open_view(browser, service, "library")
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        rows = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#videos tbody tr[data-video-id]"))
        shown = {row.get_attribute("data-video-id"): row.get_attribute("data-status") for row in rows}
        assert shown == {v["video_id"]: v["status"] for v in service.client.get("/videos").json()["videos"]}
        row = browser.find_element(By.CSS_SELECTOR, f"tr[data-video-id='{broken.video_id}']")
        assert "failed" in row.text and "moov atom not found" in row.text
        assert "1 failed" in text_of(browser, "library-stats")

        # Without the key, the service refuses, and the page says what to do.
        delete = f"tr[data-video-id='{broken.video_id}'] button.danger"
        browser.find_element(By.CSS_SELECTOR, delete).click()
        browser.switch_to.alert.accept()
        wait(browser).until(lambda d: "API key" in text_of(d, "library-error"))
        browser.find_element(By.ID, "api-key").send_keys(KEY)
        browser.find_element(By.CSS_SELECTOR, delete).click()
        browser.switch_to.alert.accept()
        wait(browser).until(lambda d: "Deleted broken.mp4" in text_of(d, "library-status"))
        assert not browser.find_elements(By.CSS_SELECTOR, f"tr[data-video-id='{broken.video_id}']")
        assert service.client.get(f"/videos/{broken.video_id}").status_code == 404
    finally:
        store.delete_video(broken.video_id)


def test_reindex_shows_progress_until_the_video_is_complete(service, browser):
    videos = service.client.get("/videos").json()["videos"]
    bear = next(v for v in videos if v["path"].endswith("bear_vp9_opus.webm"))
    open_view(browser, service, "library")
    key = browser.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys(KEY)
    wait(browser).until(lambda d: row_status(d, bear["video_id"]) == "complete")
    browser.find_element(By.CSS_SELECTOR, f"button[aria-label='Re-index {Path(bear['path']).name}']").click()

    job = wait(browser).until(lambda d: (j := first_job(d)) and bear["path"] in j["text"] and j)  # its own, not an older one
    assert job["state"] == "running" and job["progress"], job
    assert bear["path"] in job["text"]
    busy = service.client.post("/index", json={"paths": [bear["path"]]}, headers={"X-API-Key": KEY})
    assert busy.status_code == 409 and "already indexing" in busy.json()["error"]
    screenshot(browser, "library")

    job = wait(browser, 600).until(lambda d: (j := first_job(d)) and j["state"] != "running" and j)
    assert job["state"] == "done" and "1 indexed" in job["text"], job
    wait(browser).until(lambda d: row_status(d, bear["video_id"]) == "complete")
    assert service.client.get(f"/videos/{bear['video_id']}").json()["frames"] == bear["frames"]


def test_a_cancelled_job_stops_and_a_rerun_completes(service, browser):
    """Cancel from the page: the job says so and stops writing, the video it had begun is not
    complete, and the next run indexes it whole."""
    from tests.conftest import make_video

    client, headers = service.client, {"X-API-Key": KEY}
    folder = service.library / "zz_long"  # under the library, so the service may index it
    folder.mkdir()
    try:
        long = make_video(folder / "long.mp4", seconds=LONG_S, size=(160, 120), fps=2)
        started = client.post("/index", json={"paths": [str(long)]}, headers=headers)
        assert started.status_code == 202, started.text
        open_view(browser, service, "library")
        key = browser.find_element(By.ID, "api-key")
        key.clear()
        key.send_keys(KEY)
        job_id = started.json()["job"]["job_id"]

        def writing(_):  # cancelled once it has begun writing frames, so there is work to stop
            job = next(j for j in client.get("/jobs").json()["jobs"] if j["job_id"] == job_id)
            return job["state"] == "running" and job["progress"]["frames_done"] > 0

        wait(browser, 300).until(writing)
        # The list is re-drawn as it is polled: the button is looked up and clicked in one go.
        wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#job-list .job.running .cancel-job").click() or True)
        job = wait(browser, 120).until(lambda d: (j := first_job(d)) and j["state"] != "running" and j)
        assert job["state"] == "cancelled" and "cancelled" in job["text"], job
        assert client.delete(f"/jobs/{job_id}", headers=headers).status_code == 409  # not running now
        assert client.delete("/jobs/000000000000", headers=headers).status_code == 404
        assert client.delete(f"/jobs/{job_id}").status_code == 401
        frames = client.get("/stats").json()["frames"]
        time.sleep(5)
        assert client.get("/stats").json()["frames"] == frames, "the cancelled job still writes frames"
        [record] = [v for v in client.get("/videos").json()["videos"] if v["path"] == str(long.resolve())]
        assert record["status"] == "indexing"  # begun, not complete: the next run indexes it again

        again = client.post("/index", json={"paths": [str(long)]}, headers=headers)
        assert again.status_code == 202
        job_id = again.json()["job"]["job_id"]
        deadline = time.monotonic() + 600
        while (state := next(j for j in client.get("/jobs").json()["jobs"] if j["job_id"] == job_id)["state"]) == "running":
            assert time.monotonic() < deadline
            time.sleep(2)
        assert state == "done"
        record = client.get(f"/videos/{record['video_id']}").json()
        assert record["status"] == "complete" and record["frames"] == LONG_S
    finally:
        forget_folder(service, folder)


def test_phone_width_has_no_sideways_scroll(service, browser):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        for view in ("search", "match", "library"):
            open_view(browser, service, view)
            if view == "search":
                search(browser, "a person walking")
                wait_for_thumbnails(browser)
                screenshot(browser, "phone")
            if view == "library":
                wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#videos tbody tr[data-video-id]"))
            width, overflow = browser.execute_script(
                "const root = document.documentElement;"
                "return [window.innerWidth, root.scrollWidth - root.clientWidth]"
            )
            assert width == 375 and overflow <= 0, f"the {view} view scrolls sideways by {overflow} px"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_match_a_folder_from_the_page_and_sort_and_filter_its_report(service, browser, shared_videos):
    from tests.integration.test_match_jobs import clip_folder

    folder = clip_folder(service, shared_videos, "zz_clips_page")
    cut(shared_videos / "bbb_opening_480p_30s.mp4", folder / "bunny.mp4", 3, 6)
    try:
        open_view(browser, service, "match")
        browser.execute_script("sessionStorage.clear()")  # no key kept from another test
        open_view(browser, service, "match")
        wait(browser).until(lambda d: "may be matched" in text_of(d, "folder-roots"))
        browser.find_element(By.ID, "folder-path").send_keys(str(folder), Keys.ENTER)
        # No key yet: the page says what is needed.
        wait(browser).until(lambda d: "API key" in text_of(d, "folder-error"))
        open_view(browser, service, "library")
        browser.find_element(By.ID, "api-key").send_keys(KEY)
        open_view(browser, service, "match")
        browser.find_element(By.ID, "folder-path").send_keys(str(folder), Keys.ENTER)
        wait(browser, 600).until(lambda d: d.find_element(By.ID, "folder-results").is_displayed())
        assert "3 clips: 2 matched, 0 unmatched, 1 failed" in text_of(browser, "folder-status")
        # The bunny's source is in the library twice (480p and 720p): a row each, side by side.
        names = lambda: list(dict.fromkeys(r.get_attribute("data-clip").rsplit("/", 1)[1]  # noqa: E731
                             for r in browser.find_elements(By.CSS_SELECTOR, "#folder-table tbody tr[data-clip]")))
        assert names() == ["bunny.mp4", "notes.mp4", "street.mp4"]  # by clip name
        browser.find_element(By.CSS_SELECTOR, "#folder-table button[data-sort='clip']").click()
        assert names() == ["street.mp4", "notes.mp4", "bunny.mp4"]  # and back
        Select(browser.find_element(By.ID, "folder-show")).select_by_value("failed")
        assert names() == ["notes.mp4"]
        Select(browser.find_element(By.ID, "folder-show")).select_by_value("")
        browser.find_element(By.ID, "folder-filter").send_keys("chaplin")  # a source's name filters too
        assert names() == ["street.mp4"]
        screenshot(browser, "match-folder")
        link = browser.find_element(By.CSS_SELECTOR, "#folder-export a[data-format='csv']").get_attribute("href")
        assert service.client.get(link).text.startswith("clip_path,status,reason,source_path")
    finally:
        forget_folder(service, folder)
