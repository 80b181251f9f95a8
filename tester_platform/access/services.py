"""Recording token use, scanning it for anomalies, and the flags that suspend one token or
one artist's generation — never the program."""

from __future__ import annotations

import hashlib
import statistics
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.urls import reverse
from django.utils import timezone

from tester_platform import pagecache
from tester_platform.access.models import AccessFlag, AccessPolicy, TokenActivity
from tester_platform.api.models import ApiToken
from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidTransition
from tester_platform.notifications.models import Kind
from tester_platform.notifications.services import notify, notify_many
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Enrollment, ProgramStaff
from tester_platform.programs.services import enrollment_reinstate, enrollment_suspend

DEFAULT_POLICY = AccessPolicy()  # unsaved: the defaults of the model


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def token_activity_record(*, token_id: int, ip: str | None, user_agent: str, now: datetime | None = None) -> None:
    """One increment per authenticated request. An UPDATE of the minute's bucket in the
    common case; the insert only on the first request of a client in a minute."""
    minute = _minute(now or timezone.now())
    ua_hash = hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()[:16]
    key = dict(token_id=token_id, minute=minute, ip=ip, user_agent_hash=ua_hash)
    if TokenActivity.objects.filter(**key).update(requests=F("requests") + 1):
        return
    try:
        with transaction.atomic():
            TokenActivity.objects.create(**key, user_agent=user_agent[:200], requests=1)
    except IntegrityError:  # another request of the same client created the bucket first
        TokenActivity.objects.filter(**key).update(requests=F("requests") + 1)


def policy_for_user(user) -> AccessPolicy:
    """The strictest thresholds among the user's programs."""
    policies = list(AccessPolicy.objects.filter(program__enrollments__artist=user))
    if not policies:
        return DEFAULT_POLICY
    strictest = AccessPolicy()
    for field in (
        "requests_per_minute_per_token",
        "requests_per_minute_per_artist",
        "generations_per_hour_per_artist",
        "max_client_ips_per_token",
        "max_user_agents_per_token",
        "baseline_multiplier",
        "min_requests_to_flag",
        "max_concurrent_generations",
    ):
        setattr(strictest, field, min(getattr(p, field) for p in policies))
    strictest.window_seconds = max(p.window_seconds for p in policies)
    return strictest


def _baseline_per_minute(token_id: int, *, before: datetime) -> float:
    """The token's usual volume: the median requests per active minute over the past week."""
    rows = (
        TokenActivity.objects.filter(token_id=token_id, minute__lt=before, minute__gte=before - timedelta(days=7))
        .values("minute")
        .annotate(n=Sum("requests"))
        .values_list("n", flat=True)
    )
    counts = list(rows)
    return float(statistics.median(counts)) if counts else 0.0


def token_anomalies(*, now: datetime | None = None) -> list[tuple[ApiToken, str, dict]]:
    now = now or timezone.now()
    found = []
    window_start = _minute(now - timedelta(seconds=DEFAULT_POLICY.window_seconds))
    recent = (
        TokenActivity.objects.filter(
            minute__gte=window_start, token__suspended_at__isnull=True, token__revoked_at__isnull=True
        )
        .values("token_id")
        .annotate(
            requests=Sum("requests"), ips=Count("ip", distinct=True), agents=Count("user_agent_hash", distinct=True)
        )
    )
    for row in recent:
        token = ApiToken.objects.select_related("user").get(pk=row["token_id"])
        policy = policy_for_user(token.user)
        minutes = max(1.0, (now - window_start).total_seconds() / 60)
        baseline = _baseline_per_minute(token.pk, before=window_start)
        volume_limit = max(policy.min_requests_to_flag, policy.baseline_multiplier * baseline * minutes)
        reasons = []
        if row["ips"] > policy.max_client_ips_per_token:
            reasons.append(
                f"used from {row['ips']} different IP addresses within a minute "
                f"(limit {policy.max_client_ips_per_token})"
            )
        if row["agents"] > policy.max_user_agents_per_token:
            reasons.append(
                f"used by {row['agents']} different client programs within a minute "
                f"(limit {policy.max_user_agents_per_token})"
            )
        if row["requests"] > volume_limit:
            reasons.append(
                f"made {row['requests']} requests in {minutes:.0f} min, far above its usual {baseline:.0f} a minute"
            )
        if reasons:
            found.append(
                (
                    token,
                    "This token was " + "; ".join(reasons) + ".",
                    {**row, "baseline_per_minute": baseline, "window_start": window_start.isoformat()},
                )
            )
    return found


def artist_anomalies(*, now: datetime | None = None) -> list[tuple[Enrollment, str, dict]]:
    from generation.models import GenerationJob

    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    rows = (
        GenerationJob.objects.filter(created_at__gte=hour_ago, enrollment__status=Enrollment.Status.ACTIVE)
        .values("enrollment_id")
        .annotate(n=Count("id"))
    )
    found = []
    for row in rows:
        enrollment = Enrollment.objects.select_related("artist", "program").get(pk=row["enrollment_id"])
        policy = policy_for_user(enrollment.artist)
        active = GenerationJob.objects.filter(enrollment=enrollment, status__in=GenerationJob.ACTIVE_STATUSES).count()
        reasons = []
        if row["n"] > policy.generations_per_hour_per_artist:
            reasons.append(
                f"{row['n']} generations submitted in the last hour (limit {policy.generations_per_hour_per_artist})"
            )
        if active > policy.max_concurrent_generations:
            reasons.append(f"{active} generations running at once (limit {policy.max_concurrent_generations})")
        if reasons:
            found.append(
                (
                    enrollment,
                    "Generation was suspended: " + "; ".join(reasons) + ".",
                    {"generations_last_hour": row["n"], "active": active},
                )
            )
    return found


def _tell(*, flag: AccessFlag) -> None:
    """The program's managers hear of every flag; the artist of a suspended token (a
    suspended enrollment tells them itself, through enrollment_suspend)."""
    from django.contrib.auth import get_user_model

    managers = get_user_model().objects.filter(
        pk__in=ProgramStaff.objects.filter(
            program__enrollments__artist=flag.artist, role=ProgramStaff.Role.MANAGER
        ).values("user_id")
    )
    notify_many(
        users=list(managers),
        kind=Kind.ACCESS_FLAG,
        program=flag.program,
        title=f"Access flag: {flag.get_kind_display()} for {flag.artist.email}",
        body=f"{flag.reason}\nReview it in the staff dashboard (Access flags); you can undo it there.",
        link=reverse("access:flags"),
    )
    if flag.kind == AccessFlag.Kind.TOKEN:
        notify(
            user=flag.artist,
            kind=Kind.TOKEN_SUSPENDED,
            title=f"We suspended your API token {flag.token.prefix}…"
            if flag.token_id
            else "We suspended one of your API tokens",
            body=f"{flag.reason}\nOnly this token is affected; everything else on your account keeps working. "
            "Staff will review it; reply if you know why this happened.",
            link=reverse("access:tokens"),
        )


@transaction.atomic
def token_flag_and_suspend(*, token: ApiToken, reason: str, metrics: dict) -> AccessFlag | None:
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.suspended_at or token.revoked_at:
        return None
    token.suspended_at = timezone.now()
    token.suspended_reason = reason
    token.save(update_fields=["suspended_at", "suspended_reason"])
    flag = AccessFlag.objects.create(
        kind=AccessFlag.Kind.TOKEN, token=token, artist=token.user, reason=reason, metrics=metrics
    )
    audit_record(
        action="access.token_suspended",
        actor=None,
        subject=token.user,
        target=token,
        data={"prefix": token.prefix, "reason": reason, "metrics": metrics},
    )
    _tell(flag=flag)
    # The flood came through the suspended token: it must not keep the artist's other
    # tokens under the per-artist rate limit it exhausted.
    from django.core.cache import cache

    user_id = token.user_id
    transaction.on_commit(lambda: cache.delete(f"throttle:user:{user_id}"))
    return flag


@transaction.atomic
def artist_flag_and_suspend(*, enrollment: Enrollment, reason: str, metrics: dict) -> AccessFlag | None:
    if enrollment.status != Enrollment.Status.ACTIVE:
        return None
    enrollment_suspend(enrollment=enrollment, actor=None, reason=reason)
    flag = AccessFlag.objects.create(
        kind=AccessFlag.Kind.ARTIST,
        artist=enrollment.artist,
        program=enrollment.program,
        reason=reason,
        metrics=metrics,
    )
    _tell(flag=flag)
    return flag


def anomalies_scan(*, now: datetime | None = None) -> list[AccessFlag]:
    """The periodic task's body: flag and suspend whatever left its baseline."""
    flags = []
    for token, reason, metrics in token_anomalies(now=now):
        flag = token_flag_and_suspend(token=token, reason=reason, metrics=metrics)
        if flag:
            flags.append(flag)
    for enrollment, reason, metrics in artist_anomalies(now=now):
        flag = artist_flag_and_suspend(enrollment=enrollment, reason=reason, metrics=metrics)
        if flag:
            flags.append(flag)
    return flags


@transaction.atomic
def access_flag_review(*, flag: AccessFlag, reviewer, undo: bool, note: str = "") -> AccessFlag:
    flag = (
        AccessFlag.objects.select_for_update(of=("self",)).select_related("token", "artist", "program").get(pk=flag.pk)
    )
    # The flag's program's managers, never the flagged artist themself. A token reaches
    # every program of its artist, so restoring one needs a manager of each (or an admin).
    programs = (
        [flag.program_id]
        if flag.program_id
        else list(Enrollment.objects.filter(artist=flag.artist).values_list("program_id", flat=True)) or [None]
    )
    for program_id in programs:
        authorize(reviewer, Act.MANAGE, program=program_id, subject=flag.artist)
    if flag.status != AccessFlag.Status.OPEN:
        raise InvalidTransition("This flag was already reviewed.")
    flag.status = AccessFlag.Status.UNDONE if undo else AccessFlag.Status.CONFIRMED
    flag.reviewed_by, flag.reviewed_at, flag.review_note = reviewer, timezone.now(), note
    flag.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    if undo and flag.kind == AccessFlag.Kind.TOKEN and flag.token_id:
        # update() sends no signal: the helper retires the person's pages (the token shows as active again)
        pagecache.queryset_update(ApiToken.objects.filter(pk=flag.token_id), suspended_at=None, suspended_reason="")
    if undo and flag.kind == AccessFlag.Kind.ARTIST and flag.program_id:
        enrollment = Enrollment.objects.get(artist=flag.artist, program=flag.program)
        if enrollment.status == Enrollment.Status.SUSPENDED:
            enrollment_reinstate(enrollment=enrollment, actor=reviewer, note=note)
    audit_record(
        action=f"access.flag_{flag.status}",
        actor=reviewer,
        subject=flag.artist,
        program=flag.program,
        target=flag,
        data={"note": note, "kind": flag.kind},
    )
    return flag
