"""The inbox: every notice about me, unread first in the count, and which kinds also
come by email. Thin views over notifications.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from tester_platform.markup import render_markdown
from tester_platform.notifications.models import STAFF_KINDS, Kind, Notification
from tester_platform.notifications.selectors import announcements_visible_to, inbox_for
from tester_platform.notifications.services import email_enabled, email_preferences_set, notifications_mark_read


@login_required
def inbox(request):
    only_unread = request.GET.get("unread") == "1"
    rows = inbox_for(user=request.user)
    if only_unread:
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page, "only_unread": only_unread})


@login_required
@require_POST
def mark_read(request):
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit() and len(v) <= 18] or None
    count = notifications_mark_read(user=request.user, actor=request.user, ids=ids)
    messages.success(request, f"{count} notice{'s' if count != 1 else ''} marked read.")
    return redirect("notifications:inbox")


@login_required
def open_item(request, pk: int):
    """Follow a notice's link, marking it read on the way."""
    item = Notification.objects.filter(pk=pk, user=request.user).first()
    if item is None:
        raise Http404("No such notice.")
    notifications_mark_read(user=request.user, actor=request.user, ids=[item.pk])
    if item.link and url_has_allowed_host_and_scheme(
        item.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(item.link)
    return redirect("notifications:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request):
    from tester_platform.accounts.roles import STAFF_ROLES, has_role

    kinds = [
        (value, label)
        for value, label in Kind.choices
        if value not in STAFF_KINDS or has_role(request.user, *STAFF_ROLES)
    ]
    if request.method == "POST":
        shown = {value for value, _ in kinds}
        wanted = {k for k in request.POST.getlist("email") if k in shown}
        # Kinds not shown to this person keep their setting.
        hidden_on = {k for k in Kind.values if k not in shown and email_enabled(user=request.user, kind=k)}
        email_preferences_set(user=request.user, actor=request.user, emailed=wanted | hidden_on)
        messages.success(request, "Saved. Everything still reaches your inbox; only the emails changed.")
        return redirect("notifications:settings")
    rows = [(value, label, email_enabled(user=request.user, kind=value)) for value, label in kinds]
    return render(request, "notifications/settings.html", {"rows": rows})


@login_required
def announcement(request, pk: int):
    item = announcements_visible_to(user=request.user).filter(pk=pk).select_related("program", "created_by").first()
    if item is None:
        raise Http404("No such announcement.")
    return render(request, "notifications/announcement.html", {"a": item, "body_html": render_markdown(item.body)})
