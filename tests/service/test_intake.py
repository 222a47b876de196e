"""Job kinds and the request-to-job intake, in-process: no HTTP, no worker, no training."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core import protocol
from core.service.app import ServiceConfig
from core.service.intake import JobIntake
from core.service.jobs import Job, JobQueue
from core.service.kinds import KINDS, run_job
from core.service.refs import RefError, RefResolver
from core.service.schema import JobRequest


@pytest.fixture
def intake(tmp_path: Path, inputs: Path) -> JobIntake:
    config = ServiceConfig(jobs_dir=tmp_path / "jobs", allowed_roots=[inputs])
    resolver = RefResolver(tmp_path / "uploads", config.allowed_roots, config.local_paths)
    return JobIntake(config, resolver, JobQueue(run_job))  # never started: nothing runs


def test_every_kind_the_protocol_names_is_registered() -> None:
    assert tuple(KINDS) == protocol.KINDS
    assert [k for k, kind in KINDS.items() if kind.makes_model] == [protocol.TRAIN,
                                                                     protocol.RESTYLE]


@pytest.mark.parametrize(("body", "problem"), [
    ({"kind": "train", "content": ["c"]}, "a train job needs at least one image in 'styles'"),
    ({"kind": "train", "styles": ["s"]}, "a train job needs at least one image in 'content'"),
    ({"kind": "stylize", "model": "m"}, "a stylize job needs at least one image in 'images'"),
    ({"kind": "stylize", "images": ["i"]}, "a stylize job needs 'model'"),
    ({"kind": "restyle", "images": ["i"]}, "a restyle job needs 'styles' to train on"),
])
def test_a_body_missing_what_its_kind_needs_is_refused(body: dict, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        JobRequest(**body)


def test_a_restyle_body_becomes_a_job_with_checked_inputs(intake: JobIntake,
                                                          inputs: Path) -> None:
    content = str(inputs / "content.png")
    body = JobRequest(kind="restyle", styles=[str(inputs / "style.png")],
                      images=[content, {"ref": content, "scale": 2.0, "seamless": "off"}],
                      settings={"steps": 3, "strength": 0.5})
    job = intake.job(body, "127.0.0.1")
    assert job.kind == protocol.RESTYLE and job.state == protocol.QUEUED
    assert job.folder == intake.config.jobs_dir / job.id
    assert job.styles == [(inputs / "style.png").resolve()] and job.content == []
    assert [image.info.width for image in job.images] == [48, 48]
    assert [image.settings.scale for image in job.images] == [1.0, 2.0]
    assert {image.settings.strength for image in job.images} == {0.5}
    assert job.images[1].settings.seamless == "off"
    assert job.train_settings.steps == 3 and job.model_ref is None
    assert KINDS[job.kind].will_train(job.model_ref is not None)


def test_a_model_ref_is_a_style_name_a_folder_or_a_job_that_makes_one(intake: JobIntake,
                                                                      inputs: Path) -> None:
    assert intake.model_ref("starry_night", "127.0.0.1") == "starry_night"
    with pytest.raises(RefError, match="Unknown model 'nope'"):
        intake.model_ref("nope", "127.0.0.1")
    train = Job(id="a" * 32, kind=protocol.TRAIN, folder=inputs)
    stylize = Job(id="b" * 32, kind=protocol.STYLIZE, folder=inputs)
    intake.jobs.add(train)
    intake.jobs.add(stylize)
    assert intake.model_ref(train.id, "127.0.0.1") is train
    with pytest.raises(RefError, match="has no model") as refused:
        intake.model_ref(stylize.id, "127.0.0.1")
    assert refused.value.status == 422
    body = JobRequest(kind="stylize", model=train.id, images=[str(inputs / "content.png")],
                      settings={"init_from": train.id})
    with pytest.raises(RefError, match="'init_from' takes a style name"):
        intake.job(body, "127.0.0.1")


def test_paths_from_a_remote_client_are_refused(intake: JobIntake, inputs: Path) -> None:
    body = JobRequest(kind="stylize", model="starry_night", images=[str(inputs / "content.png")])
    with pytest.raises(RefError) as refused:
        intake.job(body, "203.0.113.5")
    assert refused.value.status == 403
