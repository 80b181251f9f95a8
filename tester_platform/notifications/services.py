"""The one notification service: every decision about a person goes through `notify`.

It writes an inbox item in the caller's transaction (so a rolled-back decision tells
nobody) and, after commit, hands the email to a task: multipart (plain text + HTML),
links absolute from SITE_URL, sent once (the row's email_status is claimed with a
conditional update). A kind the person switched off still reaches the inbox; only its
email stays home."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidInput, NotFound
from tester_platform.notifications.models import Announcement, EmailPreference, Kind, Notification
from tester_platform.notifications.selectors import unread_count_forget
from tester_platform.policy import Act, authorize

log = logging.getLogger(__name__)

# How long a pending email may wait before the sweep publishes it again (the first
# publish failed, or its worker died mid-send).
RESEND_AFTER = timedelta(minutes=2)


def absolute_url(link: str) -> str:
    """A path on this site → the address people open it at (SITE_URL: in the demo, the
    host and port it serves on)."""
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + (link if link.startswith("/") else "/" + link)


def email_enabled(*, user, kind: str) -> bool:
    row = EmailPreference.objects.filter(user=user, kind=kind).values_list("email", flat=True).first()
    return True if row is None else row


def _email_off_kinds(user_ids: Iterable[int], kind: str) -> set[int]:
    return set(
        EmailPreference.objects.filter(user_id__in=list(user_ids), kind=kind, email=False).values_list(
            "user_id", flat=True
        )
    )


def _dispatch_email(notification_id: int) -> None:
    """After commit: hand the email to a worker. A publish that fails leaves the row
    pending; the sweep (notifications_resend_pending) publishes it again."""
    from tester_platform.notifications.tasks import send_notification_email

    try:
        send_notification_email.delay(notification_id)
    except Exception:  # the broker is down: the sweep will find the row still pending
        log.warning("notification %s: email not queued yet", notification_id, exc_info=True)


def _after_commit(ids: list[int]) -> None:
    for pk in ids:
        transaction.on_commit(lambda pk=pk: _dispatch_email(pk), robust=True)


@transaction.atomic
def notify(
    *, user, kind: str, title: str, body: str = "", link: str = "", program=None, email: bool = True
) -> Notification:
    """Tell `user` about something decided about them: an inbox item now, an email after
    commit unless they switched `kind` off (or `email` is False)."""
    return notify_many(users=[user], kind=kind, title=title, body=body, link=link, program=program, email=email)[0]


@transaction.atomic
def notify_many(
    *, users, kind: str, title: str, body: str = "", link: str = "", program=None, email: bool = True
) -> list[Notification]:
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    users = [u for u in users if u is not None]
    if not users:
        return []
    off = _email_off_kinds((u.pk for u in users), kind) if email else {u.pk for u in users}
    rows = [
        Notification(
            user=u,
            kind=kind,
            program=program,
            title=title[:200],
            body=body,
            link=link[:500],
            email_status=Notification.Email.OFF if u.pk in off or not u.email else Notification.Email.PENDING,
        )
        for u in users
    ]
    if len(rows) == 1:
        rows[0].save()
    else:
        from tester_platform import pagecache  # bulk_create sends no post_save: the helper bumps

        rows = pagecache.bulk_create(Notification, rows)
    unread_count_forget(u.pk for u in users)
    _after_commit([n.pk for n in rows if n.email_status == Notification.Email.PENDING])
    return rows


# --- email -------------------------------------------------------------------------------------


def _settings_link() -> str:
    return absolute_url(reverse("notifications:settings"))


def build_email(*, to: str, subject: str, template: str, context: dict) -> EmailMultiAlternatives:
    """A multipart email from `emails/<template>.txt` (no HTML escaping: it is plain text)
    and `emails/<template>.html` (escaped)."""
    context = {"site_url": settings.SITE_URL, **context}
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}"[:250], body=text, from_email=None, to=[to]
    )
    message.attach_alternative(html, "text/html")
    return message


def notification_email_message(notification: Notification) -> EmailMultiAlternatives:
    return build_email(
        to=notification.user.email,
        subject=notification.title,
        template="notification",
        context={
            "n": notification,
            "name": notification.user.display_name or notification.user.email,
            "link": absolute_url(notification.link),
            "settings_link": _settings_link(),
            "kind_label": notification.get_kind_display(),
        },
    )


def notification_email_send(*, notification_id: int) -> bool:
    """The task's body: send one notification's email, once. True when sent now."""
    claimed = Notification.objects.filter(pk=notification_id, email_status=Notification.Email.PENDING).update(
        email_status=Notification.Email.SENDING
    )
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    try:
        notification_email_message(notification).send()
    except Exception as exc:
        Notification.objects.filter(pk=notification_id).update(
            email_status=Notification.Email.FAILED, email_error=str(exc)[:300]
        )
        log.warning("notification %s: email failed: %s", notification_id, exc)
        return False
    Notification.objects.filter(pk=notification_id).update(
        email_status=Notification.Email.SENT, emailed_at=timezone.now()
    )
    return True


def notifications_resend_pending(*, now=None) -> int:
    """The sweep: emails still pending (their publish failed) or stuck sending (their worker
    died) are queued again. Sending claims the row, so a duplicate message sends nothing."""
    now = now or timezone.now()
    stuck = Notification.objects.filter(email_status=Notification.Email.SENDING, created_at__lt=now - 5 * RESEND_AFTER)
    stuck.update(email_status=Notification.Email.PENDING)
    ids = list(
        Notification.objects.filter(
            email_status=Notification.Email.PENDING, created_at__lt=now - RESEND_AFTER
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        _dispatch_email(pk)
    return len(ids)


def email_send_to_address(*, to: str, subject: str, template: str, context: dict) -> None:
    """For people without an account yet (an invitation): the same multipart email, no
    inbox item."""
    build_email(to=to, subject=subject, template=template, context=context).send()


# --- the person's own inbox ------------------------------------------------------------------------


def _own(*, user, actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk != user.pk:
        raise NotFound("No such inbox.")


@transaction.atomic
def notifications_mark_read(*, user, actor, ids: Iterable[int] | None = None) -> int:
    """Mark one, some or all (ids=None) of the person's notices read. Not audited: reading
    one's own mail is nobody else's business and changes no decision."""
    _own(user=user, actor=actor)
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    from tester_platform import pagecache  # update() sends no signal: the helper bumps

    count = pagecache.queryset_update(rows, read_at=timezone.now())
    if count:
        unread_count_forget([user.pk])
    return count


@transaction.atomic
def email_preferences_set(*, user, actor, emailed: Iterable[str]) -> list[str]:
    """Which kinds also come by email; every other kind reaches the inbox only."""
    _own(user=user, actor=actor)
    emailed = set(emailed)
    unknown = emailed - set(Kind.values)
    if unknown:
        raise InvalidInput(f"Unknown kinds: {', '.join(sorted(unknown))}.", field="emailed")
    before = {p.kind: p.email for p in EmailPreference.objects.filter(user=user)}
    changed = []
    for kind in Kind.values:
        wanted = kind in emailed
        if before.get(kind, True) != wanted:
            EmailPreference.objects.update_or_create(user=user, kind=kind, defaults={"email": wanted})
            changed.append(kind)
    if changed:
        audit_record(
            action="notifications.email_preferences_updated",
            actor=actor,
            subject=user,
            target=user,
            data={"email_off": sorted(set(Kind.values) - emailed), "changed": changed},
        )
    return changed


# --- announcements ------------------------------------------------------------------------------------


@transaction.atomic
def announcement_publish(*, program, actor, title: str, body: str, email: bool = False) -> Announcement:
    """A manager's message to the program's testers: in every tester's inbox; by email too
    when asked (and the tester did not switch announcements off)."""
    from tester_platform.programs.models import Enrollment

    authorize(actor, Act.MANAGE, program=program)
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise InvalidInput("Give the announcement a title.", field="title")
    if len(title) > 200:
        raise InvalidInput("Keep the title under 200 characters.", field="title")
    if not body:
        raise InvalidInput("Write the announcement.", field="body")
    if len(body) > 20_000:
        raise InvalidInput("Keep the announcement under 20,000 characters.", field="body")
    testers = [
        e.artist
        for e in Enrollment.objects.filter(
            program=program,
            status__in=[Enrollment.Status.ONBOARDING, Enrollment.Status.ACTIVE, Enrollment.Status.SUSPENDED],
        ).select_related("artist")
    ]
    announcement = Announcement.objects.create(
        program=program, title=title, body=body, email=bool(email), created_by=actor, recipients=len(testers)
    )
    notify_many(
        users=testers,
        kind=Kind.ANNOUNCEMENT,
        title=f"{program.name}: {title}",
        body=body,
        link=reverse("notifications:announcement", args=[announcement.pk]),
        program=program,
        email=bool(email),
    )
    audit_record(
        action="announcement.published",
        actor=actor,
        program=program,
        target=announcement,
        data={"title": title, "email": bool(email), "recipients": len(testers)},
    )
    return announcement
