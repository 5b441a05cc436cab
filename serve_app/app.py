"""The HTTP ingress and the graph: `build_app(args)` wires Api -> Embedder, Reranker, AudioVerifier.

    serve run configs/serve.yaml        # or: vidsearch serve
"""


import io
import logging
import mimetypes
import re
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import Body, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from serve_app.deployments import AudioVerifier, Embedder, Reranker, SemanticUnavailable
from serve_app.schema import (
    Capabilities, Deleted, DuplicateGroup, DuplicatesResponse, GroupVideo, Health, JobResponse, JobsResponse, JobView, MatchResponse, SceneAnchor, ScenesResponse,
    SceneSearchResponse, SceneView, SearchResponse, TranscriptResponse, VideosResponse, VideoView, errors,
)
from vidsearch.access import COOKIE, HEADER, Access
from vidsearch.config import Settings, load_settings
from vidsearch.export import OTIO_MEDIA_TYPE, ResultSets
from vidsearch.filters import SearchFilters
from vidsearch.embedders.descriptors import DescriptorUnavailable
from vidsearch.media.probe import MediaError
from vidsearch.results import StoreStats
from vidsearch.store.errors import DiskFull, StoreError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"  # the page: static files, no build step

MAX_SECONDS = 10**7  # a time in a video: about four months
OPEN_ROUTES = ("/", "/health")  # the page (its files and the API's description are no routes of it)
COPIES_HELP = "hide: one result per footage, naming its other copies; show: each copy's own (default: copies.hide_in_search)"


class UserError(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


def _given_key(request: Request) -> str | None:
    return request.headers.get(HEADER) or request.cookies.get(COOKIE)


async def _read_access(request: Request) -> None:
    """With `serve.protect_reads`, every route but the page, its files, /health and the API's
    description needs the key."""
    access: Access | None = getattr(request.app.state, "access", None)
    route = request.scope.get("route")
    if access is None or getattr(route, "path", None) in OPEN_ROUTES:
        return
    if not access.allows(_given_key(request), write=False):
        raise UserError(401, "this service needs its API key: the X-API-Key header, or open /?key=KEY once")


api = FastAPI(
    title="vidsearch",
    description="Find any moment in a video library: text, image and clip search.",
    version="0.1.0",
    dependencies=[Depends(_read_access)],
)
api.mount("/static", StaticFiles(directory=WEB_DIR, check_dir=False), name="static")


@api.exception_handler(UserError)
async def _user_error(request: Request, exc: UserError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"error": exc.message})


@api.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    # Unknown routes and static files answer in the same shape as every other error.
    headers = exc.headers
    if exc.status_code == 405:  # the methods of every route at this path, not only the first one's
        headers = {**(headers or {}), "Allow": _allowed_methods(request.url.path)}
    return JSONResponse(status_code=exc.status_code, content={"error": exc.detail}, headers=headers)


def _allowed_methods(path: str) -> str:
    methods = {m for r in api.routes if getattr(r, "methods", None) and r.path_regex.match(path) for m in r.methods}
    return ", ".join(sorted(methods))


@api.exception_handler(RequestValidationError)
async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    wrong = exc.errors()
    if any(shape in e["loc"] for e in wrong for shape in SCENE_SHAPES):
        # Each shape of a scene request says what it missed, and each that the other's field is
        # not its own: what is left is what the person got wrong, once.
        wrong = [e for e in wrong if not (e["type"] in ("missing", "extra_forbidden") and e["loc"][-1] in ("scene", "second"))]
        plain = [{**e, "loc": tuple(p for p in e["loc"] if p not in SCENE_SHAPES)} for e in wrong]
        wrong = list({(e["loc"], e["msg"]): e for e in plain}.values())
        if not wrong:
            message = "give either scene (its index) or second (a time in the video), not both"
            return JSONResponse(status_code=422, content={"error": message})
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {_explain(e)}" for e in wrong]
    details = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in wrong]
    return JSONResponse(status_code=422, content={"error": "; ".join(problems), "details": details})


@api.exception_handler(RayTaskError)
async def _deployment_error(request: Request, exc: RayTaskError) -> JSONResponse:
    # A deployment's error reaches the ingress wrapped, once per hop of the graph.
    cause = _root_cause(exc)
    if isinstance(cause, MediaError):
        return JSONResponse(status_code=422, content={"error": str(cause)})
    if isinstance(cause, SemanticUnavailable):
        return JSONResponse(status_code=503, content={"error": str(cause), "capability": "semantic"})
    if isinstance(cause, DescriptorUnavailable):
        return JSONResponse(status_code=503, content={"error": str(cause), "capability": "copy descriptor"})
    if isinstance(cause, _UNAVAILABLE):
        return _unavailable(request, cause)
    log.error("request %s failed: %r", request.url.path, cause)
    return JSONResponse(status_code=500, content={"error": f"internal error: {type(cause).__name__}"})


_UNAVAILABLE = (RayActorError, BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError, StoreError)


async def _part_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(request, exc)


for _kind in _UNAVAILABLE:
    api.add_exception_handler(_kind, _part_unavailable)


def _unavailable(request: Request, cause: BaseException) -> JSONResponse:
    """A replica that died under the request, one that is full, or a store out of reach: a 503 to
    try again after, while Serve starts a new replica (or the store comes back)."""
    log.warning("request %s: %s", request.url.path, cause)
    if isinstance(cause, DiskFull):
        return JSONResponse(status_code=507, content={"error": str(cause)})
    what = "the store is unavailable" if isinstance(cause, StoreError) else "a part of the service is restarting or busy"
    return JSONResponse(status_code=503, content={"error": f"{what}: try again in a few seconds"},
                        headers={"Retry-After": "5"})


# What a pattern in the schema means, said to a person.
_PATTERNS = {"q": "the query is empty: give words to look for", "paths": "give absolute paths (starting with /)"}


def _explain(error: dict) -> str:
    if error["type"] == "string_pattern_mismatch":
        named = next((_PATTERNS[p] for p in error["loc"] if p in _PATTERNS), None)
        if named:
            return named
    return error["msg"]


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while True:
        inner = getattr(seen, "cause", None) or seen.__cause__
        if inner is None or inner is seen:
            return seen
        seen = inner


class _SceneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a scene and a second at once are no request

    video_id: str = Field(min_length=1, max_length=64)
    k: int = Field(10, ge=1, le=100)
    copies: Literal["hide", "show"] | None = Field(None, description=COPIES_HELP)


class SceneByIndex(_SceneRequest):
    scene: int = Field(ge=0, le=10**6, description="the scene's index (GET /videos/{id}/scenes)")


class SceneAtSecond(_SceneRequest):
    second: float = Field(ge=0, le=MAX_SECONDS, description="a time in the video: the scene that holds it")


SceneRequest = Annotated[SceneByIndex | SceneAtSecond, Body(description="a scene by its index, or by a second in it")]
SCENE_SHAPES = ("SceneByIndex", "SceneAtSecond")  # how validation errors name the union's members


class IndexRequest(BaseModel):
    paths: list[Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^/")]] = Field(
        min_length=1, max_length=100, description="absolute paths of files or folders"
    )


@serve.deployment
@serve.ingress(api)
class Api:
    def __init__(self, embedder: DeploymentHandle, reranker: DeploymentHandle, audio: DeploymentHandle, settings: dict):
        from serve_app.jobs import job_runner
        from vidsearch.media.thumbnails import ThumbnailStore
        from batch_jobs.cluster import cluster_store

        self.embedder, self.reranker, self.audio = embedder, reranker, audio
        self.settings = Settings.model_validate(settings)
        serving = self.settings.serve
        self.access = Access.for_service(serving.api_key, serving.host, self.settings.data_dir, serving.protect_reads)
        api.state.access = self.access
        self.store = cluster_store(self.settings)
        self.thumbnails = ThumbnailStore(self.settings.thumbnails_dir, self.settings.sampling.fps)
        self.runner = job_runner(self.settings)
        self.recent = ResultSets(self.settings.data_dir / "exports")  # seen by every replica

    def _remember(self, results: list) -> str | None:
        return self.recent.put([r.model_dump(mode="json") for r in results])

    async def _upload(self, file: UploadFile) -> bytes:
        limit = self.settings.serve.max_upload_mb * 2**20
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise UserError(413, f"upload larger than {self.settings.serve.max_upload_mb} MB")
        if not data:
            raise UserError(422, "the upload is empty (0 bytes)")
        return data

    @api.get("/", include_in_schema=False)
    async def page(self, key: str | None = None) -> Response:
        if key is not None and self.access.key is not None:
            # The address printed at start: the key becomes a cookie of this site only, so that
            # the page's images and streams carry it too, and leaves the address bar.
            if not self.access.allows(key, write=True):
                raise UserError(401, "that is not this service's API key")
            done = RedirectResponse("/", status_code=303)
            done.set_cookie(COOKIE, key, httponly=True, samesite="strict", max_age=30 * 86400)
            return done
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @api.get("/health", responses=errors())
    async def health(self) -> Health:
        caps = await self.embedder.capabilities.remote()
        return Health(
            capabilities=Capabilities(
                text_search=caps["semantic"],
                words_search=True,  # what is said and subtitled: indexed by the job, no model here
                image_search=caps["semantic"],
                clip_match=True,
                audio_verification=True,
            ),
            reasons={} if caps["semantic"] else {"text_search": caps["semantic_reason"], "image_search": caps["semantic_reason"]},
            semantic_runtime=caps.get("semantic_runtime", {}),
        )

    @api.get("/search", response_model=SearchResponse, responses=errors(401))
    async def search(
        self,
        q: Annotated[str, Query(min_length=1, max_length=1000, pattern=r"\S",
                                description='what to look for; "quoted words" must be said in a row')],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        group: Annotated[str | None, Query(pattern="^(video|scene)$",
                                           description="video: the best few moments per video; scene: one result per scene")] = None,
        source: Annotated[str | None, Query(pattern="^(visual|speech|subtitles)$", description="search one source only")] = None,
        w_visual: Annotated[float, Query(ge=0, le=10, description="weight of what the picture shows")] = 1.0,
        w_speech: Annotated[float, Query(ge=0, le=10, description="weight of what is said")] = 1.0,
        w_subtitles: Annotated[float, Query(ge=0, le=10, description="weight of what subtitles show")] = 1.0,
        fusion: Annotated[str, Query(pattern="^(rrf|weighted)$", description="rrf: by rank in each source; weighted: by score")] = "rrf",
        copies: Annotated[str | None, Query(pattern="^(hide|show)$", description=COPIES_HELP)] = None,
        filters: Annotated[SearchFilters, Query()] = SearchFilters(),
    ):
        if not q.strip():
            raise UserError(422, "the query is empty")
        sources = {"visual": ("visual",), "speech": ("said",), "subtitles": ("subtitle",)}.get(
            source, ("visual", "said", "subtitle")
        )
        notes = []
        vector = None
        if "visual" in sources:
            caps = await self.embedder.capabilities.remote()
            if caps["semantic"]:
                vector = await self.embedder.embed_text.remote(q.strip())
            elif source == "visual":
                return JSONResponse(status_code=503, content={"error": caps["semantic_reason"], "capability": "semantic"})
            else:
                notes.append(f"the picture was not searched: {caps['semantic_reason']}")
        weights = {"visual": w_visual, "said": w_speech, "subtitle": w_subtitles}
        results = await self.reranker.search_all.remote(
            vector, q.strip(), k, filters.model_dump(), group, sources, weights, fusion, self._hide(copies)
        )
        return SearchResponse(results=results, export_id=self._remember(results), notes=notes)

    @api.post("/search/image", responses=errors(400, 401, 413))
    async def search_image(
        self,
        file: UploadFile = File(...),
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        group: Annotated[str | None, Query(pattern="^(video|scene)$")] = None,
        copies: Annotated[str | None, Query(pattern="^(hide|show)$", description=COPIES_HELP)] = None,
    ) -> SearchResponse:
        from PIL import Image, UnidentifiedImageError

        data = await self._upload(file)
        try:
            image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except (UnidentifiedImageError, OSError):
            raise UserError(422, "the upload is not an image (PNG, JPEG, WebP...)") from None
        vector = self.embedder.embed_image.remote(image)
        results = await self.reranker.search.remote(vector, k, {}, group, self._hide(copies))
        return SearchResponse(results=results, export_id=self._remember(results))

    @api.post("/search/scene", responses=errors(400, 401, 404))
    async def search_scene(self, body: SceneRequest) -> SceneSearchResponse:
        """The scenes most like one scene of a video, across the library: on the semantic vectors
        where the video has them, its copy vectors otherwise."""
        from vidsearch.scenes import NoSuchScene, anchor_span

        record = self._record(body.video_id)
        try:
            index, start, end = anchor_span(record, getattr(body, "scene", None), getattr(body, "second", None))
        except NoSuchScene as e:  # the video has no such scene: a resource that is not there
            raise UserError(404, str(e)) from None
        using = "semantic" if record.semantic_model else "copy"
        results = await self.reranker.similar_scenes.remote(record.video_id, start, end, body.k, using,
                                                            self._hide(body.copies))
        anchor = SceneAnchor(video_id=record.video_id, path=record.path, index=index, start_s=start, end_s=end,
                             searched=using)
        return SceneSearchResponse(anchor=anchor, results=results, export_id=self._remember(results))

    @api.post("/match", responses=errors(400, 401, 413))
    async def match(self, file: UploadFile = File(...), k: Annotated[int, Query(ge=1, le=50)] = 5) -> MatchResponse:
        data = await self._upload(file)
        clip = self.embedder.describe_clip.remote(data)
        visual = self.reranker.match.remote(clip, k)
        matches = await self.audio.verify.remote(data, visual)
        return MatchResponse(matches=matches, export_id=self._remember(matches))

    @api.get("/export", responses=errors(401, 404))
    async def export(
        self,
        id: Annotated[str, Query(description="export_id of a /search, /search/image or /match response")],
        format: Annotated[str, Query(pattern="^(json|csv|edl|otio)$",
                                     description="otio: an OpenTimelineIO timeline of the results' ranges")] = "json",
    ) -> Response:
        from vidsearch.export import export

        results = self.recent.get(id)
        if results is None:
            raise UserError(404, f"no recent result set {id}: run the search or match again")
        from vidsearch.match_jobs import source_info

        # A timeline in each source's own frames.
        sources = source_info(self.store, {r["video_id"] for r in results if r.get("video_id")}) if format == "otio" else {}
        body, media_type = export(results, format, sources=sources)
        filename = f"vidsearch-{id}.{format}"
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @api.get("/videos", responses=errors(401))
    async def videos(self) -> VideosResponse:
        return VideosResponse(videos=[VideoView.of(r) for r in self.store.list_videos()])

    @api.get(
        "/videos/{video_id}/transcript",
        response_model=TranscriptResponse,
        responses={200: {"content": {"application/json": {}, "application/x-subrip": {}, "text/vtt": {}}}, **errors(401, 404)},
    )
    async def transcript(
        self,
        video_id: str,
        format: Annotated[str, Query(pattern="^(json|srt|vtt)$")] = "json",
        source: Annotated[str | None, Query(pattern="^(speech|subtitles)$")] = None,
        q: Annotated[str | None, Query(max_length=1000, description="only the lines that match these words")] = None,
    ):
        """What is said and shown as subtitles in one video, in time order, as JSON, SRT or WebVTT."""
        from vidsearch.text.query import as_srt, as_vtt

        record = self._record(video_id)
        kind = {"speech": "speech", "subtitles": "subtitle"}.get(source)
        rows = await self.reranker.transcript.remote(video_id, kind, q.strip() if q else None)
        if format == "json":
            return TranscriptResponse(video_id=video_id, segments=rows, texts=record.texts)
        body = as_srt(rows) if format == "srt" else as_vtt(rows)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(record.path).stem) or "transcript"
        return Response(body, media_type="application/x-subrip" if format == "srt" else "text/vtt",
                        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})

    @api.get("/videos/{video_id}/scenes", responses=errors(401, 404))
    async def scenes(self, video_id: str) -> ScenesResponse:
        """A video's scenes (shots) in time order, each with the frame that shows it."""
        from vidsearch.scenes import scene_thumbnail

        record = self._record(video_id)
        fps = record.sampling_fps or self.settings.sampling.fps
        views = [
            SceneView(index=i, start_s=s.start_s, end_s=s.end_s, opens_with=s.opens_with,
                      thumbnail_url=scene_thumbnail(video_id, s, fps))
            for i, s in enumerate(record.scenes or [])
        ]
        return ScenesResponse(video_id=video_id, detected=record.scenes is not None, scenes=views)

    @api.get("/videos/{video_id}", responses=errors(401, 404))
    async def video(self, video_id: str) -> VideoView:
        return VideoView.of(self._record(video_id))

    @api.delete("/videos/{video_id}", responses=errors(401, 404, 507))
    async def delete_video(self, video_id: str, request: Request) -> Deleted:
        self._authorise(request)
        record = self._record(video_id)
        self.store.delete_video(video_id)
        self.thumbnails.delete(video_id)
        return Deleted(deleted=video_id, path=record.path)

    @api.get("/videos/{video_id}/thumbnail", response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}, "description": "the sampled frame nearest t"}, **errors(401, 404)})
    async def thumbnail(self, video_id: str, t: Annotated[float, Query(ge=0, le=MAX_SECONDS)] = 0.0) -> FileResponse:
        record = self._record(video_id)
        path = self.thumbnails.at(video_id, t, record.sampling_fps)
        if path is None:
            raise UserError(404, f"no thumbnail at {t:.1f} s of video {video_id}")
        return FileResponse(path, media_type="image/jpeg")

    @api.get("/videos/{video_id}/stream", response_class=FileResponse,
             responses={200: {"content": {"video/*": {}}, "description": "the file, with HTTP ranges"}, **errors(401, 404)})
    async def stream(self, video_id: str) -> FileResponse:
        record = self._record(video_id)
        path = Path(record.path)
        if not path.is_file():
            raise UserError(404, f"the file of video {video_id} is no longer at {record.path}")
        # FileResponse answers HTTP range requests, which players need to seek.
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "video/mp4")

    @api.get("/duplicates", responses=errors(401))
    async def duplicates(self) -> DuplicatesResponse:
        """The videos that are the same footage (re-encodes, rescales, trims, one inside another),
        in groups, with the aligned spans of each pair. Found as each video is indexed."""
        from vidsearch.duplicates import groups

        records = self.store.list_videos("complete")
        found = groups(records)
        by_id = {r.video_id: r for r in records}
        answer = [
            DuplicateGroup(
                videos=[GroupVideo(video_id=v, path=by_id[v].path,
                                   duration_s=by_id[v].metadata.duration_s if by_id[v].metadata else None)
                        for v in members],
                pairs=pairs,
            )
            for members, pairs in zip(found.members, found.pairs)
        ]
        return DuplicatesResponse(groups=answer, videos=len(records),
                                  unchecked=sum(r.copies is None for r in records))

    @api.get("/stats", responses=errors(401))
    async def stats(self) -> StoreStats:
        return self.store.stats()

    @api.post("/index", status_code=202, responses=errors(400, 401, 403, 404, 409))
    async def index(self, body: IndexRequest, request: Request) -> JobResponse:
        """Index files or folders under the media roots, in the cluster; follow it with GET /jobs."""
        self._authorise(request)
        return JobResponse(job=await self._start_job(self._indexable(body.paths)))

    @api.post("/match/jobs", status_code=202, responses=errors(400, 401, 403, 404, 409))
    async def match_job(self, body: IndexRequest, request: Request) -> JobResponse:
        """Match every clip under files or folders (within the media roots) against the library,
        in the cluster; follow it with GET /jobs, then download GET /jobs/{job_id}/report."""
        from vidsearch.index_jobs import JobConflict
        from vidsearch.match_jobs import LibraryEmpty, describe_library

        self._authorise(request)
        paths = self._indexable(body.paths)
        try:
            describe_library(self.store.list_videos())
        except LibraryEmpty as e:
            raise UserError(409, str(e)) from None
        try:
            job = await self.runner.start_match.remote(paths)
        except RayTaskError as e:
            if isinstance(e.cause, JobConflict):
                raise UserError(409, str(e.cause)) from None
            raise
        return JobResponse(job=self._job(job, []))

    @api.get("/jobs/{job_id}/report", response_class=Response, responses={
        200: {"content": {"text/csv": {}, "application/json": {}, "application/zip": {}, OTIO_MEDIA_TYPE: {}},
              "description": "the report: one row per (clip, source segment); EDL: a zip of one per source"},
        **errors(401, 404, 409)})
    async def job_report(
        self, job_id: str, format: Annotated[str, Query(pattern="^(csv|json|edl|otio)$")] = "json",
    ) -> Response:
        """The report of a finished match job: one row per (clip, source segment), a row for each
        clip that matched nothing or failed; as CSV, JSON, EDLs (one per source, zipped) or OTIO."""
        job = await self._get_job(job_id)
        if job.kind != "match":
            raise UserError(404, f"job {job_id} indexes videos: only match jobs have a report")
        if job.state == "running":
            raise UserError(409, f"job {job_id} is still matching ({job.clips_done} of {job.clips_total} clips): "
                                 "the report is ready when it is done")
        body, media_type, suffix = self._report(job_id, format)
        filename = f"vidsearch-matches-{job_id}.{suffix}"
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    def _report(self, job_id: str, fmt: str) -> tuple[bytes | str, str, str]:
        import json
        import zipfile

        from serve_app.jobs import match_report_path
        from vidsearch.export import report_files
        from vidsearch.match_jobs import ClipOutcome, source_info

        try:
            kept = json.loads(match_report_path(self.settings, job_id).read_text())
        except (OSError, ValueError):
            raise UserError(404, f"job {job_id} left no report: it stopped before its clips were matched") from None
        outcomes = [ClipOutcome.model_validate(c) for c in kept["clips"]]
        sources = source_info(self.store, {m.video_id for o in outcomes for m in o.matches}) if fmt == "otio" else None
        files = report_files(outcomes, fmt, kept["summary"], sources)
        if fmt != "edl":
            media = {"csv": "text/csv", "json": "application/json", "otio": OTIO_MEDIA_TYPE}[fmt]
            return files[""], media, fmt
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
            for suffix, body in files.items():
                z.writestr(f"matches{suffix}.edl", body)
        return packed.getvalue(), "application/zip", "zip"

    @api.post("/videos/{video_id}/reindex", status_code=202, responses=errors(401, 403, 404, 409, 507))
    async def reindex(self, video_id: str, request: Request) -> JobResponse:
        """Index one video again from its file, even when it is complete."""
        self._authorise(request)
        record = self._record(video_id)
        return JobResponse(job=await self._start_job(self._indexable([record.path]), redo=[video_id]))

    @api.get("/jobs", responses=errors(401))
    async def jobs(self) -> JobsResponse:
        """Index and match jobs, newest first, with videos and frames (or clips) done; and the folders
        that may be indexed or matched."""
        jobs = await self.runner.jobs.remote()
        records = self.store.list_videos()
        running = records if any(j.state == "running" for j in jobs) else []
        return JobsResponse(jobs=[self._job(j, running) for j in jobs], roots=self._roots(records))

    @api.get("/jobs/{job_id}", responses=errors(401, 404))
    async def job(self, job_id: str) -> JobResponse:
        """One job, with its progress."""
        job = await self._get_job(job_id)
        records = self.store.list_videos() if job.state == "running" and job.kind == "index" else []
        return JobResponse(job=self._job(job, records))

    async def _get_job(self, job_id: str):
        from vidsearch.index_jobs import UnknownJob

        try:
            return await self.runner.job.remote(job_id)
        except RayTaskError as e:
            if isinstance(e.cause, UnknownJob):
                raise UserError(404, f"no job {job_id}") from None
            raise

    @api.delete("/jobs/{job_id}", responses=errors(401, 404, 409))
    async def cancel_job(self, job_id: str, request: Request) -> JobResponse:
        """Stop a running job. Videos it finished stay, and those it had begun are indexed again by
        the next run of their paths; a match job's clips matched so far are kept for its next run."""
        from vidsearch.index_jobs import JobConflict, UnknownJob

        self._authorise(request)
        try:
            job = await self.runner.cancel.remote(job_id)
        except RayTaskError as e:
            if isinstance(e.cause, UnknownJob):
                raise UserError(404, f"no job {job_id}") from None
            if isinstance(e.cause, JobConflict):
                raise UserError(409, str(e.cause)) from None
            raise
        return JobResponse(job=self._job(job, []))

    def _hide(self, copies: str | None) -> bool:
        return self.settings.copies.hide_in_search if copies is None else copies == "hide"

    def _record(self, video_id: str):
        record = self.store.get_video(video_id)
        if record is None:
            raise UserError(404, f"no video with id {video_id}")
        return record

    def _roots(self, records: list | None = None) -> list[str]:
        from vidsearch.index_jobs import media_roots

        if records is None and not self.settings.serve.index_roots:
            records = self.store.list_videos()
        return media_roots(self.settings.serve.index_roots, (r.path for r in records or []))

    def _indexable(self, paths: list[str]) -> list[str]:
        from vidsearch.index_jobs import BadIndexPath, PathRefused, check_paths

        try:
            return check_paths(paths, self._roots())
        except PathRefused as e:
            raise UserError(403, str(e)) from None
        except BadIndexPath as e:
            raise UserError(422, str(e)) from None

    async def _start_job(self, paths: list[str], redo: list[str] | None = None) -> JobView:
        from vidsearch.index_jobs import JobConflict

        try:
            job = await self.runner.start.remote(paths, redo or [])
        except RayTaskError as e:
            if isinstance(e.cause, JobConflict):
                raise UserError(409, str(e.cause)) from None
            raise
        return self._job(job, [])

    def _job(self, job, records: list) -> JobView:
        from vidsearch.index_jobs import job_progress

        progress = job_progress(job, records, self.store.count_frames, self.settings.sampling.fps)
        return JobView(**job.model_dump(), progress=progress)

    def _authorise(self, request: Request) -> None:
        """Routes that change the library: the key, wherever the service is reachable from others."""
        if not self.access.allows(_given_key(request), write=True):
            raise UserError(401, "this route needs the API key in the X-API-Key header")


def build_app(args: dict) -> serve.Application:
    """The application graph, from the `args:` of a Serve config: `settings` (what `vidsearch
    serve` passes: every setting, so that what runs is what its command was given, whatever the
    cluster's environment), or `config` and `data_dir` read with the cluster's environment.

    Deployed from a Serve config file, Serve applies that file's replicas and resources. Built in
    Python (tests, benchmarks), `args["serve_config"]` names such a file to take them from.
    """
    if args.get("settings") is not None:
        settings = Settings.model_validate(args["settings"])
    else:
        settings = load_settings(args.get("config"), data_dir=args.get("data_dir"))
    # Replicas may start in another working directory: pin the data dir down here.
    plain = settings.model_dump(mode="json") | {"data_dir": str(settings.data_dir.resolve())}
    options = deployment_options(args["serve_config"]) if args.get("serve_config") else {}

    def configured(deployment):
        return deployment.options(**options[deployment.name]) if deployment.name in options else deployment

    return configured(Api).bind(
        configured(Embedder).bind(plain),
        configured(Reranker).bind(plain),
        configured(AudioVerifier).bind(plain),
        plain,
    )


def deployment_options(serve_config: str | Path, app: str = "vidsearch") -> dict[str, dict]:
    """Per-deployment options (replicas, resources, autoscaling) from a Serve config file."""
    import yaml

    config = yaml.safe_load(Path(serve_config).read_text())
    application = next(a for a in config["applications"] if a["name"] == app)
    return {d["name"]: {k: v for k, v in d.items() if k != "name"} for d in application.get("deployments", [])}
