"""The JSON shapes of the worker API (validated by pydantic, published as OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..protocol import STATES
from .kinds import KINDS

JobKindName = Literal[tuple(KINDS)]
JobStateName = Literal[STATES]


class ImageSpec(BaseModel):
    """One image to stylize with per-image overrides (textures differ in scale and tiling)."""

    model_config = ConfigDict(extra="forbid")
    ref: str = Field(description="Absolute local path (loopback only) or an upload id.")
    scale: float | None = Field(None, description="Stroke scale for this image (0.05..8).")
    seamless: Literal["auto", "on", "off"] | None = None


class JobRequest(BaseModel):
    """Body of ``POST /jobs``; which lists are required depends on ``kind``."""

    model_config = ConfigDict(extra="forbid")
    kind: JobKindName
    model: str | None = Field(
        None, description="Style model: shipped/cached name, model folder, or a train job id."
    )
    styles: list[str] = Field(default_factory=list, description="Style image refs.")
    content: list[str] = Field(default_factory=list, description="Content image refs.")
    images: list[str | ImageSpec] = Field(default_factory=list, description="Images to stylize.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="TrainSettings and StylizeSettings fields by name."
    )

    @model_validator(mode="after")
    def _needs_inputs_for_kind(self) -> JobRequest:
        """Reject a job that could never run, at submission rather than in the queue."""
        problem = KINDS[self.kind].missing(self)
        if problem:
            raise ValueError(problem)
        return self


class CreatedReply(BaseModel):
    """Reply of ``POST /jobs`` and ``POST /uploads``."""

    id: str


class ResultInfo(BaseModel):
    """One stylized image, in the order of the job's ``images``."""

    input: str
    name: str
    path: str
    width: int
    height: int


class JobStateReply(BaseModel):
    """Reply of ``GET /jobs/{id}``: everything a client needs to show and finish a job."""

    id: str
    kind: JobKindName
    state: JobStateName
    progress: float = Field(ge=0, le=1)
    phase: str
    message: str
    eta_s: float | None
    results: list[ResultInfo]
    model: str | None = Field(None, description="Model folder used (train and restyle jobs).")
    created: float
    started: float | None
    finished: float | None


class HealthReply(BaseModel):
    """Reply of ``GET /health``: ``status`` for anyone, the rest only with the token."""

    status: Literal["ok"]
    version: str | None = None
    device: str | None = None
    torch: str | None = None
    queue: int | None = Field(None, description="Jobs waiting (not counting the running one).")
    running: str | None = Field(None, description="Id of the running job, if any.")
    max_upload_bytes: int | None = Field(None, description="Largest body POST /uploads accepts.")
