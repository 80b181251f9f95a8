"""The whole platform path with a real worker process (never eager mode): API submit →
broker → worker → diffusers pipeline → MP4 → usage, then variation and extension."""

import io

import av
import pytest
from django.core.files.storage import default_storage

from generation.models import GenerationJob, UsageRecord
from tests.conftest import api_as
from tests.factories import ConsentDocumentFactory, ProgramFactory, enroll, make_artist, sign
from tests.studio.conftest import wait_for_status

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def decode(job: GenerationJob):
    with default_storage.open(job.video.name, "rb") as handle:
        data = handle.read()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, frames


def test_generate_vary_and_extend_through_the_api(gpu_worker, client):
    program = ProgramFactory(slug="e2e")
    ConsentDocumentFactory(program=program)
    artist = make_artist(email="e2e@example.test")
    enroll(artist, program)
    sign(artist, program, training_use=True)
    api = api_as(artist)

    created = api.post(
        "/api/v1/generations/",
        {
            "program": program.pk,
            "mode": "text_to_video",
            "prompt": "a red kite over green hills",
            "duration_seconds": 1,
            "aspect_ratio": "16:9",
            "resolution": "preview",
            "seed": 42,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    job = wait_for_status(GenerationJob.objects.get(pk=created.json()["id"]), {"succeeded", "failed"})
    assert job.status == "succeeded", job.error_detail or job.error
    codec, frames = decode(job)
    assert codec == "h264"
    assert len(frames) == job.num_frames and frames[0].shape[:2] == (job.height, job.width)
    usage = UsageRecord.objects.get(job=job)
    assert 0 < usage.compute_seconds <= usage.wall_seconds
    assert usage.frames == job.num_frames and usage.device_name

    body = api.get(f"/api/v1/generations/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert body["usage"]["compute_seconds"] == pytest.approx(usage.compute_seconds)
    assert body["provenance"]["claims"]["training_use"] is True
    assert body["consent_record"] == job.consent_record_id
    video = client.get(body["output"]["video_url"])
    assert video.status_code == 404  # a signed URL alone is not enough: it needs the signed-in owner
    client.force_login(artist)
    video = client.get(body["output"]["video_url"])
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    assert b"".join(video.streaming_content)[4:8] == b"ftyp"
    assert client.get(body["output"]["thumbnail_url"]).status_code == 200

    other = make_artist(email="other-e2e@example.test")
    client.force_login(other)
    assert client.get(body["output"]["video_url"]).status_code == 404
    assert client.get(body["output"]["thumbnail_url"]).status_code == 404
    assert api_as(other).get(f"/api/v1/generations/{job.pk}/").status_code == 404

    for mode, extra in (("variation", {"strength": 0.5}), ("extension", {"duration_seconds": 1})):
        derived = api.post(
            "/api/v1/generations/",
            {
                "program": program.pk,
                "mode": mode,
                "prompt": "the kite at night",
                "source_generation": job.pk,
                "seed": 3,
                **extra,
            },
            format="json",
        )
        assert derived.status_code == 201, derived.content
        child = wait_for_status(GenerationJob.objects.get(pk=derived.json()["id"]), {"succeeded", "failed"})
        assert child.status == "succeeded", child.error_detail or child.error
        _, child_frames = decode(child)
        assert len(child_frames) == child.num_frames
        assert child_frames[0].shape[:2] == (job.height, job.width)
        if mode == "extension":
            assert child.num_frames > job.num_frames
        child_usage = UsageRecord.objects.get(job=child)
        assert 0 < child_usage.compute_seconds <= child_usage.wall_seconds
    assert UsageRecord.objects.filter(artist=artist).count() == 3
