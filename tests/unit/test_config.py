from pathlib import Path

import pytest

from vidsearch.config import ConfigError, load_settings


def test_defaults_embedded(monkeypatch):
    monkeypatch.delenv("QDRANT_URL", raising=False)
    s = load_settings()
    assert s.qdrant.url is None
    assert s.sampling.fps == 1.0
    assert s.edge_path == Path("data") / "edge"


def test_yaml_then_env_then_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "job.yaml"
    cfg.write_text("sampling:\n  fps: 2\n  max_side: 256\nsemantic:\n  model: /models/clip\n")
    monkeypatch.setenv("VIDSEARCH_SAMPLING__FPS", "0.5")
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    s = load_settings(cfg, data_dir=tmp_path / "d")
    assert s.sampling.fps == 0.5  # environment beats the file
    assert s.sampling.max_side == 256  # the file beats defaults, nested keys merge
    assert s.semantic.model == "/models/clip"
    assert s.qdrant.url == "http://qdrant:6333"
    assert s.data_dir == tmp_path / "d"  # an explicit flag beats everything


def test_invalid_values_name_the_field(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("sampling:\n  fps: -1\nunknown_key: 1\n")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert "sampling.fps" in str(e.value) and "unknown_key" in str(e.value)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)


def test_repo_configs_validate():
    for cfg in sorted((Path(__file__).resolve().parents[2] / "configs").glob("index*.yaml")):
        load_settings(cfg)


def test_serve_configs_are_valid_and_name_every_deployment():
    import yaml
    from ray.serve.schema import ServeDeploySchema

    for name in ("serve.yaml", "serve-gpu.yaml"):
        raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / name).read_text())
        schema = ServeDeploySchema(**raw)
        app = schema.applications[0]
        assert app.import_path == "serve_app.app:build_app"
        assert {d.name for d in app.deployments} == {"Api", "Embedder", "Reranker", "AudioVerifier"}
