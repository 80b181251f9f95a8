import json
import logging

from generation.logcontext import current_job_id
from tester_platform.logformat import JsonFormatter
from tests.factories import make_output


def test_metrics_need_the_token(client, db, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_report_queues_jobs_compute_workers_and_shares(client, artist, program, settings):
    settings.METRICS_TOKEN = "s3cret"
    make_output(artist, program)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert 'atelier_generation_jobs{status="succeeded"} 1' in body
    assert 'atelier_queue_depth{queue="gpu.wan-tiny"}' in body
    for family in (
        "atelier_compute_seconds_total",
        "atelier_workers",
        "atelier_share_requests",
        "atelier_access_flags_open",
    ):
        assert f"# TYPE {family} " in body


def test_log_lines_are_json_with_the_job_id_in_production_format():
    from generation.logcontext import JobIdFilter

    record = logging.LogRecord("generation.runner", logging.INFO, __file__, 1, "job %s: %s", (7, "succeeded"), None)
    token = current_job_id.set(7)
    try:
        JobIdFilter().filter(record)
    finally:
        current_job_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["job_id"] == 7 and line["message"] == "job 7: succeeded" and line["level"] == "INFO"
