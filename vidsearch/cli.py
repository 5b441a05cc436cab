"""The `vidsearch` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from batch_jobs.index_videos import EXIT_ERROR, index_command
from vidsearch.config import ConfigError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find any moment in a video library.")
app.command("index")(index_command)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="where the embedded store lives")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _store(config: Path | None, data_dir: Path | None):
    from vidsearch.store.errors import StoreError
    from vidsearch.store.owner import open_store

    try:
        return open_store(load_settings(config, data_dir=data_dir))
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
    figures = _store(config, data_dir).stats()
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:12s} {value}")


if __name__ == "__main__":
    app()


@app.command()
def serve(
    serve_config: Annotated[Path, typer.Option("--serve-config", help="Ray Serve config")] = Path("configs/serve.yaml"),
    data_dir: DataDirOpt = None,
) -> None:
    """Serve search and matching over HTTP (port 8000) on the local Ray cluster, starting it if needed.

    The index job joins the same cluster, so videos indexed while it runs become searchable.
    """
    import os
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    if data_dir is not None or "VIDSEARCH_DATA_DIR" not in env:
        # Ray's processes start elsewhere: give them the data dir as an absolute path.
        env["VIDSEARCH_DATA_DIR"] = str((data_dir or Path("data")).resolve())
    if not env.get("RAY_ADDRESS") and not Path("/tmp/ray/ray_current_cluster").exists():
        subprocess.run(
            [str(bin_dir / "ray"), "start", "--head", "--disable-usage-stats", "--include-dashboard=false"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
    os.execve(str(bin_dir / "serve"), [str(bin_dir / "serve"), "run", str(serve_config), "--address", "auto"], env)


UrlOpt = Annotated[str, typer.Option("--url", envvar="VIDSEARCH_URL", help="the service's address")]


def _call(method: str, url: str, path: str, **kwargs) -> dict:
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
    return body


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for, in words")],
    k: Annotated[int, typer.Option(help="how many moments")] = 10,
    group: Annotated[bool, typer.Option("--group", help="best moments per video")] = False,
    url: UrlOpt = "http://127.0.0.1:8000",
    as_json: JsonOpt = False,
) -> None:
    """Search the running service for moments matching a text query."""
    params = {"q": query, "k": k} | ({"group": "video"} if group else {})
    body = _call("GET", url, "/search", params=params)
    if as_json:
        typer.echo(json.dumps(body))
        return
    for r in body["results"]:
        typer.echo(f"{r['score']:7.4f}  {_clock(r['timestamp_s']):>9}  {r['path']}")
    typer.echo(f"{len(body['results'])} moments")


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
        typer.echo(
            f"{m['score']:6.3f}  source {_clock(m['source_start_s'])}-{_clock(m['source_end_s'])}  "
            f"clip {_clock(m['query_start_s'])}-{_clock(m['query_end_s'])}  audio {verdict:8s}  "
            f"{view + '  ' if view else ''}{m['path']}"
        )
    if not body["matches"]:
        typer.echo("no match: the clip comes from none of the indexed videos")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"
