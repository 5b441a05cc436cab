"""The `vidsearch` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from batch_jobs.index_videos import EXIT_ERROR, index_command
from batch_jobs.match_clips import match_all_command
from vidsearch.config import ConfigError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find any moment in a video library.")
app.command("index")(index_command)
app.command("match-all")(match_all_command)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="where the embedded store lives")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _store(config: Path | None, data_dir: Path | None):
    from vidsearch.store.errors import StoreError
    from batch_jobs.cluster import store_for_command

    try:
        return store_for_command(load_settings(config, data_dir=data_dir))
    except (ConfigError, StoreError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


@app.command()
def videos(config: ConfigOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """List indexed videos with their status."""
    records = _store(config, data_dir).list_videos()
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json", exclude={"fingerprint"}) for r in records]))
        return
    for r in records:
        meta = r.metadata
        size = f"{meta.duration_s:7.1f}s {meta.width}x{meta.height} {meta.video_codec}" if meta else "-"
        extra = f"  {r.error}" if r.error else ""
        typer.echo(f"{r.video_id}  {r.status:9s} {r.frames:6d} frames  {size}  {r.path}{extra}")
    typer.echo(f"{len(records)} videos")


@app.command()
def stats(config: ConfigOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of videos, frames and failures in the index."""
    figures = _store(config, data_dir).stats().model_dump()
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:12s} {value}")


store_app = typer.Typer(no_args_is_help=True, help="Move the index: migrate, push to or pull from a Qdrant server.")
app.add_typer(store_app, name="store")
ServerKeyOpt = Annotated[Optional[str], typer.Option("--api-key", envvar="QDRANT_API_KEY", help="the server's API key")]


def _embedded(settings):
    """The embedded store, opened here: moving a whole index needs it to itself."""
    from vidsearch.store import StoreBusy, StoreError, open_store

    if settings.qdrant.url:
        _fail("this moves the embedded store; unset QDRANT_URL (and qdrant.url) to name it")
    try:
        return open_store(settings)
    except StoreBusy as e:
        _fail(f"{e} Stop the service first (`make stop`).")
    except StoreError as e:
        _fail(str(e))


def _server(url: str, api_key: str | None, settings, semantic_dim: int, create: bool = True,
            copy_dim: int | None = None):
    from vidsearch.store import StoreError
    from vidsearch.store.server import ServerStore

    qdrant = settings.qdrant.model_copy(update={"url": url, "api_key": api_key})
    try:
        return ServerStore.open(qdrant, semantic_dim, create=create, copy_dim=copy_dim or settings.descriptor.dim)
    except StoreError as e:
        _fail(str(e))


def _settings(config: Path | None, data_dir: Path | None):
    try:
        return load_settings(config, data_dir=data_dir)
    except ConfigError as e:
        _fail(str(e))


def _fail(message: str):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


def _copy(source, target, as_json: bool, done: str) -> None:
    from vidsearch.store import StoreError
    from vidsearch.store.migrate import copy_store

    try:
        summary = copy_store(source, target, progress=not as_json)
    except StoreError as e:
        _fail(str(e))
    finally:
        source.close()
        target.close()
    if as_json:
        typer.echo(json.dumps({"videos": summary.videos, "frames": summary.frames}))
    else:
        typer.echo(f"copied {summary.videos} videos and {summary.frames} frames; {done}")


@store_app.command("migrate")
def store_migrate(config: ConfigOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Migrate a data dir of an earlier release (Qdrant local mode) to the embedded Edge store.

    Opening such a data dir migrates it too; this does it ahead of time. The old folder is kept,
    renamed, until you remove it."""
    from vidsearch.store import StoreError
    from vidsearch.store.migrate import migrate_local, needs_migration

    settings = _settings(config, data_dir)
    if not needs_migration(settings):
        typer.echo(json.dumps({"migrated": False}) if as_json else f"nothing to migrate in {settings.data_dir}")
        return
    try:
        summary = migrate_local(settings, progress=not as_json)
    except StoreError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps({"migrated": True, "videos": summary.videos, "frames": summary.frames}))
    else:
        typer.echo(f"migrated {summary.videos} videos and {summary.frames} frames to {settings.edge_path}")


@store_app.command("push")
def store_push(
    to: Annotated[str, typer.Option("--to", help="the Qdrant server's URL")],
    api_key: ServerKeyOpt = None, config: ConfigOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False,
) -> None:
    """Copy the embedded index to a Qdrant server, to move to a cluster without re-indexing."""
    settings = _settings(config, data_dir)
    source = _embedded(settings)
    target = _server(to, api_key, settings, source.semantic_dim, copy_dim=source.copy_dim)
    _copy(source, target, as_json, f"use it with QDRANT_URL={to}")


@store_app.command("pull")
def store_pull(
    from_url: Annotated[str, typer.Option("--from", help="the Qdrant server's URL")],
    api_key: ServerKeyOpt = None, config: ConfigOpt = None, data_dir: DataDirOpt = None, as_json: JsonOpt = False,
) -> None:
    """Copy an index from a Qdrant server into the embedded store of this data dir."""
    settings = _settings(config, data_dir)
    source = _server(from_url, api_key, settings, settings.semantic.dim, create=False)
    settings = settings.model_copy(update={
        "semantic": settings.semantic.model_copy(update={"dim": source.semantic_dim}),
        "descriptor": settings.descriptor.model_copy(update={"dim": source.copy_dim}),
    })
    try:
        target = _embedded(settings)
    except typer.Exit:
        source.close()
        raise
    _copy(source, target, as_json, f"the embedded store in {settings.data_dir} holds it")


cluster_app = typer.Typer(no_args_is_help=True, help="A local Ray cluster for `ray job submit`.")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("start")
def cluster_start(
    port: Annotated[int, typer.Option(help="the head's port")] = 6379,
    dashboard_port: Annotated[int, typer.Option(help="the dashboard's (and job API's) port, on 127.0.0.1")] = 8265,
) -> None:
    """Start a local Ray cluster whose jobs run this environment's Python; `make stop` stops it."""
    import sys

    from batch_jobs.cluster import ClusterError, RAY_TOKEN, running_local_cluster, start_cluster

    running = running_local_cluster()
    if running:
        _fail(f"a Ray cluster is already running at {running}; stop it first (`make stop` or `ray stop`)")
    try:
        address = start_cluster(Path(sys.executable).parent, port, dashboard_port)
    except ClusterError as e:
        _fail(str(e))
    token = " RAY_AUTH_MODE=token" if RAY_TOKEN.exists() else ""  # the head then asks for Ray's token
    typer.echo(f"Ray cluster at {address}, jobs at http://127.0.0.1:{dashboard_port}; submit with\n"
               f"  export RAY_ADDRESS=http://127.0.0.1:{dashboard_port}{token}\n"
               f"  ray job submit --working-dir . -- python -m batch_jobs.index_videos /path/to/videos --data-dir \"$PWD/data\"")


@app.command()
def serve(
    serve_config: Annotated[Path, typer.Option("--serve-config", help="Ray Serve config")] = Path("configs/serve.yaml"),
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[Optional[str], typer.Option(help="listen here (serve.host): 0.0.0.0 for every interface")] = None,
    port: Annotated[Optional[int], typer.Option(help="HTTP port (serve.port)")] = None,
) -> None:
    """Serve search and matching over HTTP (127.0.0.1:8000 unless told) on a local Ray cluster.

    What runs is what this command was given: its settings go with the application, whichever
    cluster runs it. A cluster it starts, it stops on exit; one already running (RAY_ADDRESS, or
    `ray start --head`) it names and leaves running. Index jobs started meanwhile join it.
    """
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    import yaml

    from batch_jobs.cluster import (
        ClusterError, forget_dead_cluster, head_env, recorded_cluster, running_local_cluster, start_head, stop_head,
    )
    from vidsearch.access import KEY_FILE, is_loopback, stored_key

    try:
        settings = load_settings(config, data_dir=data_dir)
        # Ray's processes start elsewhere: the data dir goes to them as an absolute path.
        settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve(), "serve": settings.serve.model_copy(
            update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})})
        template = yaml.safe_load(serve_config.read_text())
    except ConfigError as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"cannot read the Serve config {serve_config}: {e.strerror}")
    serving, shown = settings.serve, settings.serve.host if settings.serve.host != "0.0.0.0" else "this-machine"
    if not serving.api_key and (not is_loopback(serving.host) or serving.protect_reads):
        key, made = stored_key(settings.data_dir, create=True)
        if made:
            typer.echo(f"API key, made for this data dir and kept in {settings.data_dir / KEY_FILE}:\n  {key}\n"
                       f"open http://{shown}:{serving.port}/?key={key} once in a browser")
        else:
            typer.echo(f"changes to the library need the API key in {settings.data_dir / KEY_FILE}")
    bin_dir = Path(sys.executable).parent
    env = head_env(bin_dir)
    head = None
    address = os.environ.get("RAY_ADDRESS") or running_local_cluster()
    if address:
        typer.echo(f"serving on the running Ray cluster at {address}, which stays up after this command")
    else:
        if recorded_cluster():
            typer.echo(f"the Ray cluster recorded at {recorded_cluster()} is not running (killed?); starting a new one")
            forget_dead_cluster()
        try:
            head, address = start_head(bin_dir, env)
        except ClusterError as e:
            _fail(str(e))
    typer.echo(f"serving {settings.data_dir} (semantic model {settings.semantic.model if settings.semantic.enabled else 'off'}) "
               f"on http://{shown}:{serving.port}/")
    template["http_options"] = {**template.get("http_options", {}), "host": serving.host, "port": serving.port}
    plain = settings.model_dump(mode="json")
    for application in template.get("applications", []):
        application["args"] = {"settings": plain}
    fd, rendered = tempfile.mkstemp(prefix="vidsearch-serve-", suffix=".yaml")  # 0600: it may hold the key
    code = 0
    signal.signal(signal.SIGTERM, _interrupted)  # a supervisor's stop: as Ctrl-C, so the cluster stops too
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(template, f)
        # Started in the background, this command may have Ctrl-C ignored: `serve run` must not.
        service = subprocess.Popen([str(bin_dir / "serve"), "run", rendered, "--address", address], env=env,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        code = _wait_out(service)
    finally:
        os.unlink(rendered)
        if head is not None:
            typer.echo("stopping the Ray cluster this command started")
            stop_head(head)
    raise typer.Exit(code)


UrlOpt = Annotated[str, typer.Option("--url", envvar="VIDSEARCH_URL", help="the service's address")]


def _call(method: str, url: str, path: str, raw: bool = False, **kwargs):
    """The service's JSON answer (its text with `raw`); an error is printed and exits."""
    import httpx

    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=300, **kwargs)
    except httpx.HTTPError as e:
        typer.echo(f"error: cannot reach the service at {url}: {e}. Start it with `vidsearch serve`.", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        typer.echo(f"error ({response.status_code}): {body.get('error', response.text)}", err=True)
        raise typer.Exit(EXIT_ERROR)
    return response.text if raw else body


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='what to look for, in words; "quoted words" must be said in a row')],
    k: Annotated[int, typer.Option(help="how many moments")] = 10,
    group: Annotated[bool, typer.Option("--group", help="best moments per video")] = False,
    per_scene: Annotated[bool, typer.Option("--scenes", help="one result per scene")] = False,
    said: Annotated[bool, typer.Option("--said", help="only what is said (speech)")] = False,
    subtitles: Annotated[bool, typer.Option("--subtitles", help="only what subtitles show")] = False,
    visual: Annotated[bool, typer.Option("--visual", help="only what the picture shows")] = False,
    fusion: Annotated[str, typer.Option(help="rrf (by rank) or weighted (by score)")] = "rrf",
    url: UrlOpt = "http://127.0.0.1:8000",
    as_json: JsonOpt = False,
) -> None:
    """Search the running service for moments: what the picture shows, what is said, what subtitles show."""
    chosen = [name for name, on in (("speech", said), ("subtitles", subtitles), ("visual", visual)) if on]
    if len(chosen) > 1:
        typer.echo("error: choose at most one of --said, --subtitles, --visual", err=True)
        raise typer.Exit(2)
    if group and per_scene:
        typer.echo("error: choose one of --group, --scenes", err=True)
        raise typer.Exit(2)
    params = {"q": query, "k": k, "fusion": fusion} | ({"group": "video"} if group else {})
    params |= {"group": "scene"} if per_scene else {}
    params |= {"source": chosen[0]} if chosen else {}
    body = _call("GET", url, "/search", params=params)
    if as_json:
        typer.echo(json.dumps(body))
        return
    for note in body.get("notes", []):
        typer.echo(f"note: {note}", err=True)
    for r in body["results"]:
        why = "+".join(r.get("matched", []))
        span = r.get("scene")
        scene = f"  (scene {_clock(span['start_s'])}-{_clock(span['end_s'])})" if span else ""
        typer.echo(f"{r['score']:8.4f}  {_clock(r['timestamp_s']):>9}  {why:<14} {r['path']}{scene}")
        if r.get("quote"):
            typer.echo(f"{'':34}“{_marked(r['quote'])}”")
    typer.echo(f"{len(body['results'])} moments")


def _marked(quote: dict) -> str:
    """The quote with its matched words in [brackets]."""
    text, out, at = quote["text"], [], 0
    for start, end in quote["marks"]:
        out += [text[at:start], "[", text[start:end], "]"]
        at = end
    return "".join(out + [text[at:]])


@app.command()
def transcript(
    video_id: Annotated[str, typer.Argument(help="the video's id (see `vidsearch search --json` or /videos)")],
    format: Annotated[str, typer.Option("--format", help="text, srt, vtt or json")] = "text",
    url: UrlOpt = "http://127.0.0.1:8000",
) -> None:
    """Print what is said (and subtitled) in one video, in time order."""
    if format not in ("text", "srt", "vtt", "json"):
        typer.echo("error: --format is one of text, srt, vtt, json", err=True)
        raise typer.Exit(2)
    if format in ("srt", "vtt"):
        typer.echo(_call("GET", url, f"/videos/{video_id}/transcript", params={"format": format}, raw=True), nl=False)
        return
    body = _call("GET", url, f"/videos/{video_id}/transcript")
    if format == "json":
        typer.echo(json.dumps(body))
        return
    for row in body["segments"]:
        typer.echo(f"{_clock(row['start_s']):>9}  {row['source']:<12} {row['text']}")


@app.command()
def scenes(
    video_id: Annotated[str, typer.Argument(help="the video's id (see `vidsearch videos`)")],
    like: Annotated[Optional[int], typer.Option("--like", help="find the scenes most like this one (its index)")] = None,
    k: Annotated[int, typer.Option(help="with --like: how many scenes")] = 10,
    url: UrlOpt = "http://127.0.0.1:8000",
    as_json: JsonOpt = False,
) -> None:
    """List a video's scenes (shots), or with --like N the library's scenes most like its scene N."""
    if like is not None:
        body = _call("POST", url, "/search/scene", json={"video_id": video_id, "scene": like, "k": k})
        if as_json:
            typer.echo(json.dumps(body))
            return
        a = body["anchor"]
        typer.echo(f"like scene {a['index']} ({_clock(a['start_s'])}-{_clock(a['end_s'])}) of {a['path']}, "
                   f"on the {a['searched']} vectors:")
        for r in body["results"]:
            span = r.get("scene")
            where = f"scene {span['index']:3d} {_clock(span['start_s'])}-{_clock(span['end_s'])}" if span else \
                f"at {_clock(r['timestamp_s'])}"
            typer.echo(f"{r['score']:8.4f}  {where:<30} {r['path']}")
        typer.echo(f"{len(body['results'])} scenes")
        return
    body = _call("GET", url, f"/videos/{video_id}/scenes")
    if as_json:
        typer.echo(json.dumps(body))
        return
    if not body["detected"]:
        typer.echo("this video was indexed without shot detection (scenes.enabled): re-index it to find its scenes")
        return
    for s in body["scenes"]:
        typer.echo(f"{s['index']:4d}  {_clock(s['start_s']):>9} - {_clock(s['end_s']):>9}  {s['opens_with']}")
    typer.echo(f"{len(body['scenes'])} scenes")


@app.command()
def duplicates(url: UrlOpt = "http://127.0.0.1:8000", as_json: JsonOpt = False) -> None:
    """List the videos that are the same footage (re-encodes, rescales, trims, one inside another)."""
    body = _call("GET", url, "/duplicates")
    if as_json:
        typer.echo(json.dumps(body))
        return
    for number, group in enumerate(body["groups"], 1):
        names = {v["video_id"]: v["path"] for v in group["videos"]}
        typer.echo(f"footage {number}: {len(group['videos'])} copies")
        for v in group["videos"]:
            typer.echo(f"  {v['video_id']}  {v['path']}")
        for p in group["pairs"]:
            how = {"same": "is the same as", "contains": "contains", "within": "is within"}[p["relation"]]
            typer.echo(f"    {Path(names[p['a']]).name} {_clock(p['a_start_s'])}-{_clock(p['a_end_s'])} {how} "
                       f"{Path(names[p['b']]).name} {_clock(p['b_start_s'])}-{_clock(p['b_end_s'])}  score {p['score']:.3f}")
    typer.echo(f"{len(body['groups'])} groups of copies among {body['videos']} videos")
    if body["unchecked"]:
        typer.echo(f"note: {body['unchecked']} videos were indexed before copies were looked for: re-index them to")


@app.command()
def match(
    clip: Annotated[Path, typer.Argument(help="a video clip", exists=True, dir_okay=False)],
    k: Annotated[int, typer.Option(help="how many sources at most")] = 5,
    url: UrlOpt = "http://127.0.0.1:8000",
    as_json: JsonOpt = False,
) -> None:
    """Find which indexed videos a clip was cut from, where, and whether the audio agrees."""
    with clip.open("rb") as f:
        body = _call("POST", url, "/match", params={"k": k}, files={"file": (clip.name, f, "application/octet-stream")})
    if as_json:
        typer.echo(json.dumps(body))
        return
    for m in body["matches"]:
        audio = m.get("audio")
        verdict = "unknown" if audio is None else ("verified" if audio["verified"] else "differs")
        view = "mirrored" if m.get("flipped") else (f"inset {m['inset']}" if m.get("inset") else "")
        if m.get("crop"):
            view = f"{view} cropped".strip()
        if m.get("speed", 1.0) != 1.0:
            view = f"{view} {m['speed']}x speed".strip()
        typer.echo(
            f"{m['score']:6.3f}  source {_clock(m['source_start_s'])}-{_clock(m['source_end_s'])}  "
            f"clip {_clock(m['query_start_s'])}-{_clock(m['query_end_s'])}  audio {verdict:8s}  "
            f"{view + '  ' if view else ''}{m['path']}"
        )
    if not body["matches"]:
        typer.echo("no match: the clip comes from none of the indexed videos")


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _wait_out(service) -> int:
    """Wait for `serve run` to end. A Ctrl-C in the terminal reaches it too, and it then shuts the
    application down: give it the time to, and pass the interrupt on where only this process got it."""
    import signal
    import subprocess

    while True:
        try:
            return service.wait()
        except KeyboardInterrupt:
            try:
                return service.wait(2)
            except subprocess.TimeoutExpired:
                service.send_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass
            try:
                return service.wait(60)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                service.terminate()
                return service.wait()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


if __name__ == "__main__":
    app()
