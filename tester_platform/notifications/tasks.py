from celery import shared_task

from tester_platform.notifications.services import notification_email_send, notifications_resend_pending


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    return notification_email_send(notification_id=notification_id)


@shared_task
def resend_pending_notification_emails() -> int:
    return notifications_resend_pending()
