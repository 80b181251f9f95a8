from celery import shared_task

from tester_platform.access.services import anomalies_scan


@shared_task
def scan_for_anomalies() -> int:
    return len(anomalies_scan())
