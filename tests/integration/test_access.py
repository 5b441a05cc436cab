"""Who may use the service, over real HTTP: beside the shared service (on loopback, with a key),
the same library served by two more applications, one whose settings say it listens on every
interface with no key configured, one that protects reads too."""

import stat

import httpx
import pytest

from tests.integration.conftest import REPO


def _app(service, name: str, **serve_settings):
    from ray import serve

    from serve_app.app import build_app
    from vidsearch.config import load_settings

    settings = load_settings(service.config)
    settings = settings.model_copy(update={"serve": settings.serve.model_copy(update=serve_settings)})
    # The settings themselves go with the application, as `vidsearch serve` sends them.
    plain = settings.model_dump(mode="json")
    serve.run(build_app({"settings": plain, "serve_config": str(REPO / "configs" / "serve.yaml")}),
              name=name, route_prefix=f"/{name}")
    return settings, httpx.Client(base_url=f"{service.url}/{name}", timeout=120)


@pytest.fixture(scope="module")
def beyond(service):
    from ray import serve

    settings, client = _app(service, "beyond", host="0.0.0.0", api_key=None)
    with client:
        yield settings, client
    serve.delete("beyond")


@pytest.fixture(scope="module")
def private(service):
    from ray import serve

    settings, client = _app(service, "private", protect_reads=True, api_key="k2")
    with client:
        yield client
    serve.delete("private")


def test_beyond_loopback_changes_need_the_key_made_at_first_start(beyond):
    settings, client = beyond
    key_file = settings.data_dir / "api_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    videos = client.get("/videos")
    assert videos.status_code == 200 and videos.json()["videos"]  # reads stay open
    some = videos.json()["videos"][0]["video_id"]
    for method, path, kwargs in (
        ("DELETE", f"/videos/{some}", {}),
        ("POST", "/index", {"json": {"paths": ["/tmp"]}}),
        ("POST", f"/videos/{some}/reindex", {}),
    ):
        refused = client.request(method, path, **kwargs)
        assert refused.status_code == 401 and "API key" in refused.json()["error"], (method, path)
        wrong = client.request(method, path, headers={"X-API-Key": "guess"}, **kwargs)
        assert wrong.status_code == 401
    # The key lets a change through (to a video that is not there: nothing is lost).
    assert client.delete("/videos/0000", headers={"X-API-Key": key}).status_code == 404
    assert client.get(f"/videos/{some}").status_code == 200


def test_protected_reads(private, service):
    assert private.get("/videos").status_code == 401
    assert private.get("/search", params={"q": "a bear"}).status_code == 401
    assert private.get("/health").status_code == 200
    page = private.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert private.get("/videos", headers={"X-API-Key": "k2"}).status_code == 200
    # The address printed at start: the key becomes a same-site cookie, then leaves the address.
    assert private.get("/", params={"key": "nope"}).status_code == 401
    login = private.get("/", params={"key": "k2"})
    assert login.status_code == 303
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    videos = private.get("/videos")  # the client keeps the cookie
    assert videos.status_code == 200
    some = videos.json()["videos"][0]["video_id"]
    assert private.get(f"/videos/{some}/thumbnail", params={"t": 1}).status_code == 200


def test_no_cross_origin_answers(service):
    asked = service.client.get("/videos", headers={"Origin": "http://elsewhere.example"})
    assert asked.status_code == 200 and "access-control-allow-origin" not in asked.headers
    preflight = service.client.options(
        "/videos/0000", headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "DELETE"}
    )
    assert "access-control-allow-origin" not in preflight.headers
