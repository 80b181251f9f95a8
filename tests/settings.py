"""Test settings: the product's settings pointed at one temporary folder per test session.

The folder's path travels in the environment, so a worker process started by a test
imports these same settings and finds the same broker folder, media and mail folders."""

import os
import tempfile
import uuid

os.environ.setdefault("ATELIER_TEST_RUN_DIR", tempfile.mkdtemp(prefix="atelier-test-"))
_RUN_DIR = os.environ["ATELIER_TEST_RUN_DIR"]
os.environ.setdefault("ATELIER_VAR_DIR", _RUN_DIR)
os.environ.setdefault("ATELIER_TEST_SQLITE", os.path.join(_RUN_DIR, "test-db.sqlite3"))
os.environ.setdefault("ATELIER_TEST_RUN_ID", uuid.uuid4().hex[:12])

from tester_platform.settings import *  # noqa: E402,F401,F403
from tester_platform.settings import CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_URL, VAR_DIR  # noqa: E402

# Hashing cost is not what these tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")

if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Each test session gets its own key space on a shared Redis, so a leftover message
    # from an earlier run can never reach this run's worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405 (keep the socket timeouts)
        "global_keyprefix": f"atelier-test-{os.environ['ATELIER_TEST_RUN_ID']}:",
    }

# Shared model checkpoint for the suite, built once per machine (see build_tiny_model).
AXES_ENABLED = os.environ.get("ATELIER_TEST_AXES", "1") == "1"

# Fault injection for worker processes started by tests: a media store that fills up
# after the worker's pre-claim check passed (tests/faults.py).
if os.environ.get("ATELIER_TEST_MEDIA_FAULT") == "fills_mid_job":
    STORAGES = {
        **STORAGES,
        "default": {
            "BACKEND": "tests.faults.FillsUpMidJobStorage",  # noqa: F405
            "OPTIONS": {"location": str(MEDIA_ROOT)},
        },
    }  # noqa: F405
