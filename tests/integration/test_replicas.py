"""State that must hold with more than one replica: the same library served by an application
with two Api replicas, as configs/serve-gpu.yaml runs several."""

import httpx
import yaml

from tests.integration.conftest import REPO


def test_exports_answer_from_any_replica(service, tmp_path):
    from ray import serve

    from serve_app.app import build_app
    from vidsearch.config import load_settings

    config = yaml.safe_load((REPO / "configs" / "serve.yaml").read_text())
    api = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Api")
    api["num_replicas"] = 2
    serve_config = tmp_path / "serve-two.yaml"
    serve_config.write_text(yaml.safe_dump(config))
    plain = load_settings(service.config).model_dump(mode="json")
    serve.run(build_app({"settings": plain, "serve_config": str(serve_config)}), name="two", route_prefix="/two")
    assert serve.status().applications["two"].deployments["Api"].replica_states.get("RUNNING") == 2
    with httpx.Client(base_url=f"{service.url}/two", timeout=120) as client:
        # Each search lands on one replica, its export on either: every one must be found.
        for i in range(12):
            found = client.get("/search", params={"q": f"a city street {i}", "k": 3, "source": "visual"})
            assert found.status_code == 200
            exported = client.get("/export", params={"id": found.json()["export_id"], "format": "csv"})
            assert exported.status_code == 200, exported.text
    serve.delete("two")
