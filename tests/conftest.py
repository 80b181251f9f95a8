from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tester_platform.accounts.roles import ADMIN, FINANCE, MODERATOR, PROGRAM_MANAGER
from tester_platform.programs.models import ProgramStaff
from tests.factories import (
    ConsentDocumentFactory,
    ProgramFactory,
    UserFactory,
    add_staff,
    enroll,
    make_artist,
    sign,
)
from tests.worker import WorkerProcess


def pytest_runtest_setup(item):
    """`@pytest.mark.postgres`: the test needs PostgreSQL itself (pg_terminate_backend, …);
    on another database it is skipped before its fixtures start workers. It runs in CI's
    PostgreSQL + Redis pass."""
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip(f"needs PostgreSQL (this run uses {connection.vendor})")


@pytest.fixture
def program(db):
    program = ProgramFactory(slug="main", name="Main Program")
    ConsentDocumentFactory(program=program, version=1)
    return program


@pytest.fixture
def other_program(db):
    program = ProgramFactory(slug="other", name="Other Program")
    ConsentDocumentFactory(program=program, version=1)
    return program


@pytest.fixture
def artist(program):
    """Alice: enrolled, consent signed."""
    user = make_artist(email="alice@example.test", display_name="Alice")
    enroll(user, program)
    sign(user, program)
    return user


@pytest.fixture
def other_artist(program):
    """Bob: enrolled in the same program, consent signed."""
    user = make_artist(email="bob@example.test", display_name="Bob")
    enroll(user, program)
    sign(user, program)
    return user


@pytest.fixture
def outsider(db):
    """Charlie: an account with no program."""
    return UserFactory(email="charlie@example.test")


@pytest.fixture
def moderator(program):
    user = UserFactory(email="mod@example.test", roles=[MODERATOR])
    add_staff(user, program, ProgramStaff.Role.MODERATOR)
    return user


@pytest.fixture
def other_moderator(other_program):
    user = UserFactory(email="mod-other@example.test", roles=[MODERATOR])
    add_staff(user, other_program, ProgramStaff.Role.MODERATOR)
    return user


@pytest.fixture
def manager(program):
    user = UserFactory(email="manager@example.test", roles=[PROGRAM_MANAGER])
    add_staff(user, program, ProgramStaff.Role.MANAGER)
    return user


@pytest.fixture
def finance_user(db):
    return UserFactory(email="finance@example.test", roles=[FINANCE])


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.test", roles=[ADMIN], is_staff=True, is_superuser=True)


@pytest.fixture
def api():
    return APIClient()


def api_as(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def celery_worker(transactional_db):
    """A real worker process on the default queue, for the length of one test."""
    worker = WorkerProcess(queues="celery").wait_ready()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the shared cache; user ids repeat between tests."""
    from django.core.cache import caches

    for store in caches.all():  # the default cache and the page cache
        store.clear()
    yield


@pytest.fixture
def mail_now(monkeypatch, django_capture_on_commit_callbacks):
    """Notification emails sent in the test's own process when its transaction would commit
    (the task's body, called directly instead of through the broker). Use as a context
    manager around the decision: `with mail_now(): ...`."""
    from tester_platform.notifications import services

    monkeypatch.setattr(services, "_dispatch_email", lambda pk: services.notification_email_send(notification_id=pk))

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
