"""A client generated with openapi-python-client from the live /api/schema/ runs an
artist's journey against a live server: sign in for a token, list programs, submit a
generation, read it, list usage, and meet 4xx errors that it parses as the documented
ProblemDetails. Generated into a temporary directory at test time; nothing is committed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
PACKAGE = "atelier_generated_client"


def _generate(base_url: str, where: Path):
    with urllib.request.urlopen(f"{base_url}/api/schema/?format=json", timeout=30) as answer:
        schema = json.load(answer)
    (where / "schema.json").write_text(json.dumps(schema))
    (where / "config.yml").write_text("post_hooks: []\n")  # no ruff run over the generated code
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(where / "schema.json"),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(where / "config.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the binary downloads (video, images, PDF, ZIP) are left to `response.content`.
    skipped = {line for line in (result.stdout + result.stderr).splitlines() if line.startswith("WARNING parsing")}
    assert all(
        ("download" in line or "input-image" in line or "pdf" in line or "statement" in line or "export" in line)
        for line in skipped
    ), skipped
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def test_an_artist_journey_through_the_generated_client(live_server, tmp_path, artist, program):
    client_package = _generate(live_server.url, tmp_path)
    models = importlib.import_module(f"{PACKAGE}.models")

    def call(operation: str, **kwargs):
        return importlib.import_module(f"{PACKAGE}.api.v1.{operation}").sync_detailed(**kwargs)

    anonymous = client_package.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    wrong = call(
        "v1_auth_token_create",
        client=anonymous,
        body=models.TokenRequestRequest(email=artist.email, password="not the password"),
    )
    assert wrong.status_code == 401 and isinstance(wrong.parsed, models.ProblemDetails)
    signed_in = call(
        "v1_auth_token_create",
        client=anonymous,
        body=models.TokenRequestRequest(email=artist.email, password=PASSWORD, name="journey"),
    )
    assert signed_in.status_code == 201, signed_in.content
    token = signed_in.parsed.token
    client = client_package.AuthenticatedClient(base_url=live_server.url, token=token, raise_on_unexpected_status=True)

    programs = call("v1_programs_list", client=client)
    assert programs.status_code == 200 and [p.id for p in programs.parsed.results] == [program.pk]

    submitted = call(
        "v1_generations_create",
        client=client,
        body=models.GenerationCreateRequest(
            program=program.pk,
            mode=models.ModeEnum.TEXT_TO_VIDEO,
            prompt="a paper boat on a pond",
            duration_seconds=2,
            resolution=models.ResolutionEnum.PREVIEW,
        ),
    )
    assert submitted.status_code == 201, submitted.content
    generation = submitted.parsed
    assert isinstance(generation, models.Generation) and generation.status == models.GenerationStatusEnum.QUEUED

    read = call("v1_generations_retrieve", client=client, id=generation.id)
    assert read.status_code == 200 and read.parsed.prompt == "a paper boat on a pond"
    assert read.parsed.provenance.claims.consent_record_id == generation.consent_record

    usage = call("v1_usage_retrieve", client=client, program=program.pk)
    assert usage.status_code == 200 and isinstance(usage.parsed, models.UsageReport)
    assert usage.parsed.quota[0].program == program.pk and usage.parsed.totals.jobs == 0  # nothing ran yet

    missing = call("v1_generations_retrieve", client=client, id=999_999)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.ProblemDetails)
    assert (missing.parsed.status, missing.parsed.code) == (404, "not_found")

    incomplete = call(
        "v1_generations_create",
        client=client,
        body=models.GenerationCreateRequest(program=program.pk, mode=models.ModeEnum.TEXT_TO_VIDEO, prompt="no length"),
    )
    assert incomplete.status_code == 400 and isinstance(incomplete.parsed, models.ProblemDetails)
    assert incomplete.parsed.code == "invalid"
    assert "duration_seconds" in incomplete.parsed.errors.additional_properties
