"""The Celery app shared by web, workers and beat. Tasks are discovered by app label."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tester_platform.settings")

app = Celery("atelier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
