"""The KubeRay deployment (k8s/, Dockerfile), checked offline.

Overlays are built by `build` below, a small Python equivalent of `kustomize build` for what k8s/
uses (resources, patches, images); where kustomize or kubectl is installed, a test checks that both
give the same objects. Manifests are validated against the KubeRay CRDs and Kubernetes schemas in
../shared/schemas, made strict: a field a schema does not list is an error, as it is for the API
server's strict field validation.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from fractions import Fraction
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
SCHEMAS = ROOT.parent / "shared" / "schemas"
OVERLAYS = ["cpu", "gpu"]
SERVE_CONFIGS = {"cpu": "configs/serve.yaml", "gpu": "configs/serve-gpu.yaml"}
# Every Ray pod mounts these claims here: records hold absolute paths, thumbnails cross pods.
RAY_MOUNTS = {
    "/videos": "vidsearch-videos",
    "/data": "vidsearch-data",
    "/models": "vidsearch-models",
}
WORKDIR = "/app"  # the image's WORKDIR; configs/ paths are relative to it

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are megabytes of YAML


# -- a kustomize build for the subset k8s/ uses --------------------------------------------------


def build(directory: Path) -> list[dict]:
    """The objects `kustomize build directory` gives, for kustomizations with resources, patches
    (strategic merge without lists, or JSON 6902 with a target) and images."""
    kustomization = yaml.load((directory / "kustomization.yaml").read_text(), _Loader)
    unsupported = set(kustomization) - {"resources", "patches", "images"}
    if unsupported:
        raise NotImplementedError(f"{directory}: this build does not do {sorted(unsupported)}")
    objects = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += (
            build(path)
            if path.is_dir()
            else [o for o in yaml.load_all(path.read_text(), _Loader) if o]
        )
    for patch in kustomization.get("patches", []):
        body = yaml.load((directory / patch["path"]).read_text(), _Loader)
        if isinstance(body, list):
            _json_patch(_find(objects, patch["target"]["kind"], patch["target"]["name"]), body)
        else:
            _merge(_find(objects, body["kind"], body["metadata"]["name"]), body)
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    return objects


def _find(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} objects {kind}/{name}"
    return found[0]


def _merge(into: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, list) or key.startswith("$"):
            # kustomize merges lists by keys it infers; use a JSON 6902 patch for lists.
            raise NotImplementedError(f"strategic merge of {key!r}")
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif value is None:
            into.pop(key, None)
        else:
            into[key] = copy.deepcopy(value)


def _json_patch(obj: dict, operations: list[dict]) -> None:
    for operation in operations:
        op = operation["op"]
        if op not in ("add", "replace", "remove"):
            raise NotImplementedError(f"JSON patch op {op!r}")
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in operation["path"].split("/")[1:]
        ]
        node = obj
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            last = len(node) if last == "-" else int(last)
            if op == "add":
                node.insert(last, copy.deepcopy(operation["value"]))
                continue
        elif op != "add" and last not in node:
            raise KeyError(f"{operation['path']}: nothing to {op}")
        if op == "remove":
            del node[last]
        else:
            node[last] = copy.deepcopy(operation["value"])


def _set_image(node, image: dict) -> None:
    """kustomize's `images`: every container anywhere whose image has that name."""
    if set(image) - {"name", "newName", "newTag"}:
        raise NotImplementedError(f"images: {sorted(image)}")
    if isinstance(node, list):
        for item in node:
            _set_image(item, image)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers"):
                for container in value:
                    name, tag = container["image"], ""
                    if ":" in name.rsplit("/", 1)[-1]:
                        name, tag = name.rsplit(":", 1)
                    if name == image["name"]:
                        tag = image.get("newTag", tag)
                        container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")
            _set_image(value, image)


@cache
def _built(overlay: str) -> list[dict]:
    return build(K8S / "overlays" / overlay)


def built(overlay: str) -> list[dict]:
    return copy.deepcopy(_built(overlay))


def one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def ray_clusters(objects: list[dict]) -> dict[str, dict]:
    """RayService and RayJob name -> the RayCluster spec it creates."""
    specs = {"RayService": "rayClusterConfig", "RayJob": "rayClusterSpec"}
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"][specs[o["kind"]]]
        for o in objects
        if o["kind"] in specs
    }


def ray_pods(cluster: dict) -> list[tuple[str, dict, dict]]:
    """(group, pod spec, Ray container) for the head and every worker group."""
    groups = [("head", cluster["headGroupSpec"])] + [
        (g["groupName"], g) for g in cluster["workerGroupSpecs"]
    ]
    return [
        (name, g["template"]["spec"], g["template"]["spec"]["containers"][0]) for name, g in groups
    ]


def serve_config(service: dict) -> dict:
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def deployments(service: dict) -> list[dict]:
    return [d for app in serve_config(service)["applications"] for d in app.get("deployments", [])]


# -- strict schema validation ---------------------------------------------------------------------


def closed(schema: dict) -> dict:
    """A copy of `schema` in which objects admit only the fields they list, unless they preserve
    unknown fields: CRD schemas leave additionalProperties unset, so typos would pass."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: closed(s) for name, s in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            schema["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            schema[key] = closed(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [closed(s) for s in schema[key]]
    return schema


@cache
def _validators() -> dict:
    from jsonschema import Draft4Validator, Draft7Validator

    validators = {}
    for path in sorted((SCHEMAS / "kuberay").glob("*.yaml")):
        crd = yaml.load(path.read_text(), _Loader)
        for version in crd["spec"]["versions"]:
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            validators[key] = Draft7Validator(closed(version["schema"]["openAPIV3Schema"]))
    for path in sorted((SCHEMAS / "k8s").glob("*.json")):
        schema = json.loads(path.read_text())
        for gvk in schema["x-kubernetes-group-version-kind"]:
            api = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            validators[(api, gvk["kind"])] = Draft4Validator(closed(schema))
    return validators


def schema_errors(obj: dict) -> list[str]:
    validator = _validators().get((obj.get("apiVersion"), obj.get("kind")))
    if validator is None:
        return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')} under {SCHEMAS}"]
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]


@pytest.fixture
def schemas():
    if not (SCHEMAS / "kuberay").is_dir() or not (SCHEMAS / "k8s").is_dir():
        pytest.skip(f"no KubeRay CRDs and Kubernetes JSON schemas under {SCHEMAS} (kuberay/, k8s/)")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_validate_strictly(overlay, schemas):
    objects = built(overlay)
    assert {o["kind"] for o in objects} >= {
        "RayService",
        "RayJob",
        "StatefulSet",
        "Service",
        "PersistentVolumeClaim",
    }
    for obj in objects:
        where = f"{overlay}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        assert obj["metadata"].get("name"), where
        assert schema_errors(obj) == [], where


MISSPELLED = [
    ("RayService", ["spec", "rayClusterConfig", "workerGroupSpecs", 0], "maxReplica"),
    (
        "RayService",
        ["spec", "rayClusterConfig", "headGroupSpec", "template", "spec", "containers", 0],
        "workDir",
    ),
    ("RayJob", ["spec"], "shutdownAfterJobFinish"),
    ("StatefulSet", ["spec"], "replica"),
    ("PersistentVolumeClaim", ["spec"], "storageClass"),
]


@pytest.mark.parametrize("kind, path, field", MISSPELLED)
def test_misspelled_fields_are_rejected(kind, path, field, schemas):
    obj = next(o for o in built("gpu") if o["kind"] == kind)
    node = obj
    for key in path:
        node = node[key]
    node[field] = "x"
    errors = schema_errors(obj)
    assert len(errors) == 1 and f"'{field}' was unexpected" in errors[0], errors


def test_missing_required_fields_are_rejected(schemas):
    service = one(built("gpu"), "RayService")
    del service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    assert any("'groupName' is a required property" in e for e in schema_errors(service))
    del service["spec"]["rayClusterConfig"]
    assert any("'rayClusterConfig' is a required property" in e for e in schema_errors(service))


def test_unknown_kinds_are_rejected(schemas):
    assert schema_errors({"apiVersion": "ray.io/v1", "kind": "RayServe", "metadata": {"name": "x"}})


def _kustomize() -> tuple[list[str], str]:
    """The command that builds a kustomization here, and its kustomize version."""

    def output(*command: str) -> str:
        return subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=60
        ).stdout

    if shutil.which("kustomize"):
        return ["kustomize", "build"], output("kustomize", "version")
    if shutil.which("kubectl"):
        client = json.loads(output("kubectl", "version", "--client", "-o", "json") or "{}")
        return ["kubectl", "kustomize"], client.get("kustomizeVersion", "")
    pytest.skip("neither kustomize nor kubectl is installed to compare the Python build with")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_python_build_matches_kustomize(overlay):
    command, version = _kustomize()
    major = re.search(r"v(\d+)\.", version)
    if not major or int(major.group(1)) < 4:
        pytest.skip(f"{command[0]} has kustomize {version or '(unknown)'}; k8s/ needs v4 or later")
    result = subprocess.run(
        [*command, str(K8S / "overlays" / overlay)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    def by_name(objects):
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    assert by_name(yaml.safe_load_all(result.stdout)) == by_name(built(overlay))


# -- the Serve config ------------------------------------------------------------------------------


def _render_module():
    spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_serve_config_patches_are_current():
    render = _render_module()
    assert set(render.SERVE_CONFIGS.values()) == set(SERVE_CONFIGS.values())
    for target, source in render.SERVE_CONFIGS.items():
        assert (ROOT / target).read_text() == render.render(source), (
            f"{target} is stale: run python -m k8s.render"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serve_config_is_the_one_in_configs(overlay):
    """No cluster-only differences but one: settings reach the cluster through vidsearch-env, and
    the proxies listen on the pods' interfaces (a laptop's config says loopback), where the
    service then asks for its key (VIDSEARCH_SERVE__HOST in vidsearch-env)."""
    service = one(built(overlay), "RayService")
    expected = yaml.safe_load((ROOT / SERVE_CONFIGS[overlay]).read_text())
    expected["http_options"]["host"] = "0.0.0.0"
    assert serve_config(service) == expected
    env = one([o for o in built(overlay) if o["metadata"]["name"] == "vidsearch-env"], "ConfigMap")["data"]
    assert env["VIDSEARCH_SERVE__HOST"] == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serve_import_path_and_config_resolve(overlay):
    from vidsearch.config import load_settings

    for app in serve_config(one(built(overlay), "RayService"))["applications"]:
        module, _, name = app["import_path"].partition(":")
        assert callable(getattr(importlib.import_module(module), name)), app["import_path"]
        if app.get("args", {}).get("config"):
            load_settings(ROOT / app["args"]["config"])  # relative to WORKDIR in the image


# -- resources -------------------------------------------------------------------------------------

_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "m": Fraction(1, 1000),
}


def quantity(value) -> Fraction:
    """A Kubernetes quantity ("8", "500m", "16Gi") as a number."""
    text = str(value)
    for suffix, factor in _SUFFIXES.items():
        if text.endswith(suffix):
            return Fraction(text[: -len(suffix)]) * factor
    return Fraction(text)


def capacity(group: dict) -> dict[str, Fraction]:
    """What Ray sees on one pod of a group: rayStartParams where set, else the limits."""
    params = group.get("rayStartParams", {})
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    return {
        "CPU": quantity(params.get("num-cpus", limits["cpu"])),
        "GPU": quantity(params.get("num-gpus", limits.get("nvidia.com/gpu", 0))),
        "memory": quantity(params.get("memory", limits["memory"])),
    }


def demand(ray_actor_options: dict) -> dict[str, Fraction]:
    """What one replica reserves; Serve's default is one CPU."""
    return {
        "CPU": Fraction(str(ray_actor_options.get("num_cpus", 1))),
        "GPU": Fraction(str(ray_actor_options.get("num_gpus", 0))),
        "memory": Fraction(str(ray_actor_options.get("memory", 0))),
    }


def fits(need: dict, have: dict) -> bool:
    return all(need[k] <= have[k] for k in need)


def worker_groups(cluster: dict) -> dict[str, dict]:
    return {g["groupName"]: g for g in cluster["workerGroupSpecs"]}


def gpu_groups(cluster: dict) -> set[str]:
    return {name for name, g in worker_groups(cluster).items() if capacity(g)["GPU"] > 0}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_fits_a_worker(overlay):
    service = one(built(overlay), "RayService")
    cluster = service["spec"]["rayClusterConfig"]
    # The head takes nothing, so every replica has to fit a worker.
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = {name: capacity(g) for name, g in worker_groups(cluster).items()}
    for deployment in deployments(service):
        need = demand(deployment.get("ray_actor_options", {}))
        landing = {name for name, have in groups.items() if fits(need, have)}
        assert landing, f"{overlay}: {deployment['name']} needs {need}; the workers have {groups}"
        # GPU replicas land on the GPU group; the others fit the CPU group, not only a GPU node.
        if need["GPU"]:
            assert landing == gpu_groups(cluster), deployment["name"]
        else:
            assert landing - gpu_groups(cluster), (
                f"{overlay}: {deployment['name']} fits no CPU group"
            )


def test_gpu_embedder_shares_the_gpus_of_the_gpu_group():
    service = one(built("gpu"), "RayService")
    cluster = service["spec"]["rayClusterConfig"]
    embedder = next(d for d in deployments(service) if d["name"] == "Embedder")
    need = demand(embedder["ray_actor_options"])
    assert 0 < need["GPU"] < 1, "the Embedder should take a fraction of a GPU"
    assert gpu_groups(cluster) == {"gpu"}
    assert fits(need, capacity(worker_groups(cluster)["gpu"]))
    assert all(
        not demand(d.get("ray_actor_options", {}))["GPU"]
        for d in deployments(service)
        if d["name"] != "Embedder"
    )
    assert not gpu_groups(one(built("cpu"), "RayService")["spec"]["rayClusterConfig"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_largest_cluster_holds_every_replica_at_max(overlay):
    """First-fit of every deployment at its max replicas onto every worker at maxReplicas; like Ray,
    CPU-only replicas go to GPU nodes only when the others are full."""
    service = one(built(overlay), "RayService")
    groups = worker_groups(service["spec"]["rayClusterConfig"])
    nodes = [capacity(g) for g in groups.values() for _ in range(g["maxReplicas"])]
    nodes.sort(key=lambda node: node["GPU"] > 0)
    replicas = [
        (d["name"], demand(d.get("ray_actor_options", {})))
        for d in deployments(service)
        for _ in range(
            d.get("autoscaling_config", {}).get("max_replicas") or d.get("num_replicas", 1)
        )
    ]
    for name, need in sorted(replicas, key=lambda r: -r[1]["GPU"]):
        node = next((n for n in nodes if fits(need, n)), None)
        assert node is not None, f"{overlay}: no room for another {name} replica at max size"
        for k in need:
            node[k] -= need[k]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_clusters_autoscale_and_gpu_groups_request_gpus(overlay):
    for where, cluster in ray_clusters(built(overlay)).items():
        assert cluster["enableInTreeAutoscaling"] is True, where
        for name, group in worker_groups(cluster).items():
            assert (
                group["minReplicas"]
                <= group.get("replicas", group["minReplicas"])
                <= group["maxReplicas"]
            ), name
            resources = group["template"]["spec"]["containers"][0]["resources"]
            # Extended resources need requests equal to limits.
            assert resources["requests"].get("nvidia.com/gpu") == resources["limits"].get(
                "nvidia.com/gpu"
            ), name
        assert bool(gpu_groups(cluster)) == (overlay == "gpu"), where


# -- the index job ---------------------------------------------------------------------------------


def _entrypoint(job: dict) -> tuple[list[str], str | None]:
    argv = shlex.split(job["spec"]["entrypoint"])
    config = argv[argv.index("--config") + 1] if "--config" in argv else None
    return argv, config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rayjob_indexes_the_videos_volume_and_cleans_up(overlay):
    job = one(built(overlay), "RayJob")
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0 and spec["activeDeadlineSeconds"] > 0
    argv, config = _entrypoint(job)
    assert argv[:3] == ["python", "-m", "batch_jobs.index_videos"]
    paths = [a for a in argv[3:] if not a.startswith("--") and a != config]
    assert paths and all(p == "/videos" or p.startswith("/videos/") for p in paths), paths
    assert (config is not None) == (overlay == "gpu")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_index_job_fits_its_cluster(overlay):
    from vidsearch.config import load_settings

    job = one(built(overlay), "RayJob")
    cluster = job["spec"]["rayClusterSpec"]
    _, config = _entrypoint(job)
    settings = load_settings(ROOT / config if config else None).job
    groups = worker_groups(cluster)
    # Reservations per decode task and embed actor, as the job asks for them (config `job:`).
    assert any(fits(demand({"num_cpus": settings.decode_num_cpus}), capacity(g)) for g in groups.values())
    embed_cpus = settings.embed_num_cpus
    if embed_cpus is None:
        embed_cpus = 0 if settings.embed_num_gpus else 1
    embed = demand({"num_gpus": settings.embed_num_gpus, "num_cpus": embed_cpus})
    landing = {name for name, g in groups.items() if fits(embed, capacity(g))}
    assert landing
    if settings.embed_num_gpus:
        assert landing == gpu_groups(cluster)
        gpus = sum(capacity(groups[n])["GPU"] * groups[n]["maxReplicas"] for n in landing)
        assert gpus >= Fraction(str(settings.embed_num_gpus)) * settings.embed_concurrency


def test_index_job_module_runs():
    result = subprocess.run(
        [sys.executable, "-m", "batch_jobs.index_videos", "--help"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout


# -- settings, volumes, Qdrant ------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ray_pods_share_image_settings_and_volumes(overlay):
    objects = built(overlay)
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    images = set()
    for where, cluster in ray_clusters(objects).items():
        for group, pod, container in ray_pods(cluster):
            at = f"{overlay} {where} {group}"
            images.add(container["image"])
            assert container["workingDir"] == WORKDIR, at
            assert {"configMapRef": {"name": "vidsearch-env"}} in container["envFrom"], at
            volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
            assert {
                m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]
            } == RAY_MOUNTS, at
    assert set(RAY_MOUNTS.values()) <= claims
    assert len(images) == 1, images


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_environment_gives_the_app_qdrant_and_offline_models(overlay, monkeypatch):
    from vidsearch.config import load_settings

    objects = built(overlay)
    env = _find(objects, "ConfigMap", "vidsearch-env")["data"]
    assert env["HF_HUB_OFFLINE"] == "1" and env["HF_HOME"].startswith("/models/")
    for key in [k for k in os.environ if k.startswith("VIDSEARCH_") or k == "QDRANT_URL"]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.qdrant.url == env["QDRANT_URL"] and str(settings.data_dir) == "/data"

    # QDRANT_URL names the Qdrant Service, on a port it serves, in front of the StatefulSet's pods.
    url = urlparse(env["QDRANT_URL"])
    statefulset = one(objects, "StatefulSet")
    service = _find(objects, "Service", url.hostname)
    assert statefulset["spec"]["serviceName"] == url.hostname
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    assert (
        service["spec"]["selector"].items()
        <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    )
    # Its data lives on a claim of its own.
    templates = {t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]}
    mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    storage = [m["name"] for m in mounts if m["mountPath"] == "/qdrant/storage"]
    assert storage and storage[0] in templates


def test_store_schema_is_created_once_against_a_server(monkeypatch):
    """Every replica and job opens the store at start: the second opening creates nothing."""
    from qdrant_client import QdrantClient, models

    from vidsearch.config import QdrantSettings
    from vidsearch.store import server as store_module

    class ServerLike:
        """Local-mode Qdrant that reports its payload indexes, as a server does."""

        def __init__(self):
            self.client, self.indexes, self.created = QdrantClient(":memory:"), {}, []

        def __getattr__(self, name):
            return getattr(self.client, name)

        def create_collection(self, name, **kwargs):
            self.created.append(name)
            return self.client.create_collection(name, **kwargs)

        def create_payload_index(self, collection, field, kind, **kwargs):
            self.created.append(f"{collection}.{field}")
            data_type = kind.type if isinstance(kind, models.TextIndexParams) else kind
            self.indexes.setdefault(collection, {})[field] = models.PayloadIndexInfo(
                data_type=data_type, points=0
            )

        def get_collection(self, name):
            info = self.client.get_collection(name)
            return info.model_copy(update={"payload_schema": dict(self.indexes.get(name, {}))})

    server = ServerLike()
    monkeypatch.setattr(store_module, "QdrantClient", lambda **kwargs: server)
    settings = QdrantSettings(url="http://qdrant:6333")
    store_module.ServerStore.open(settings, semantic_dim=8)
    created = list(server.created)
    assert {settings.frames_collection, settings.videos_collection} <= set(created)
    assert (
        f"{settings.frames_collection}.video_id" in created
        and f"{settings.videos_collection}.status" in created
    )
    again = store_module.ServerStore.open(settings, semantic_dim=16)
    assert server.created == created
    assert again.semantic_dim == 8  # the existing collection's vector size wins


# -- the image -------------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    text = "\n".join(lines).replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in text.splitlines()
        if line.strip()
    ]


def test_dockerfile_installs_media_tools_and_downloads_no_models():
    instructions = _dockerfile()
    run = " ".join(args for kind, args in instructions if kind == "RUN")
    assert "apt-get install" in run and " ffmpeg " in f" {run} " and "libchromaprint-tools" in run
    assert "pip install" in run and "/app" in run
    everything = " ".join(args for _, args in instructions)
    for fetch in (
        "hf download",
        "huggingface-cli",
        "snapshot_download",
        "from_pretrained",
        "HF_HUB_OFFLINE=0",
    ):
        assert fetch not in everything, f"the image must not fetch model weights ({fetch})"
    # KubeRay replaces the command of Ray containers: nothing may hang on one (no start-up fetch).
    assert not [kind for kind, _ in instructions if kind in ("CMD", "ENTRYPOINT")]
    assert [args for kind, args in instructions if kind == "WORKDIR"] == [WORKDIR]


def test_image_ray_matches_the_manifests():
    base = next(
        args for kind, args in _dockerfile() if kind == "ARG" and args.startswith("RAY_IMAGE=")
    )
    image = base.split("=", 1)[1]
    repository, tag = image.rsplit(":", 1)
    assert repository == "rayproject/ray" and tag.endswith("-gpu"), f"{image}: a CUDA image of Ray"
    for overlay in OVERLAYS:
        for where, cluster in ray_clusters(built(overlay)).items():
            assert cluster["rayVersion"] == tag.split("-")[0], (
                f"{overlay} {where}: rayVersion vs {image}"
            )
