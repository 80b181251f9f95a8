import pytest
from django.utils import timezone

from generation import services
from generation.models import Worker
from tests.factories import UserFactory
from tests.generation.conftest import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = UserFactory(email="root@example.test", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_staff_see_jobs_usage_and_workers_read_only(staff_client, tester):
    worker = Worker.objects.create(hostname="gpu@host", started_at=timezone.now(), last_heartbeat=timezone.now())
    job = submit(tester)
    claimed = services.job_claim(job_id=job.pk, worker=worker)
    services.job_succeed(
        job_id=job.pk,
        attempt=claimed.attempts,
        outputs=services.Outputs(),
        usage=services.UsageStats("cpu", 1.0, 1.2, 4, 33, 1000),
    )
    for url in (
        "/admin/generation/generationjob/",
        f"/admin/generation/generationjob/{job.pk}/change/",
        "/admin/generation/usagerecord/",
        "/admin/generation/worker/",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
    assert b"gpu@host" in staff_client.get("/admin/generation/worker/").content
    assert staff_client.get("/admin/generation/usagerecord/add/").status_code == 403


def test_the_cancel_action_uses_the_service(staff_client, tester):
    job = submit(tester)
    response = staff_client.post(
        "/admin/generation/generationjob/", {"action": "cancel_jobs", "_selected_action": [job.pk]}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
