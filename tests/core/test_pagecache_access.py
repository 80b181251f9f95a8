"""A hit never skips the page's access check (tester_platform/pagecache.py, cached_page's
`access`), and every write that changes someone's access also retires their cached pages,
so what the page *shows* (a suspension, a consent to sign, a pause, a role) is current on
the next visit. For each write: warm the page, write, and the next visit is not a hit."""

import pytest
from django.contrib.auth.models import Group

from tester_platform.programs.models import Enrollment, ProgramStaff


def warm(client, path):
    assert client.get(path).get("X-Page-Cache") == "miss"
    assert client.get(path).get("X-Page-Cache") == "hit"


def _suspend(artist, manager, program):
    from tester_platform.programs.services import enrollment_suspend

    enrollment_suspend(
        enrollment=Enrollment.objects.get(artist=artist, program=program), actor=manager, reason="review"
    )


def _reinstate(artist, manager, program):
    from tester_platform.programs.services import enrollment_reinstate

    enrollment_reinstate(enrollment=Enrollment.objects.get(artist=artist, program=program), actor=manager)


def _withdraw_consent(artist, manager, program):
    from tester_platform.consent.services import consent_withdraw

    consent_withdraw(artist=artist, program=program)


def _new_consent_version(artist, manager, program):
    from tester_platform.consent.services import consent_document_draft, consent_document_publish

    draft = consent_document_draft(program=program, actor=manager, title="Terms v2", body="New terms.")
    consent_document_publish(document=draft, actor=manager)


def _pause(artist, manager, program):
    from tester_platform.programs.services import program_set_paused

    program_set_paused(program=program, actor=manager, paused=True, reason="maintenance")


def _unpause(artist, manager, program):
    from tester_platform.programs.services import program_set_paused

    program_set_paused(program=program, actor=manager, paused=False)


def _revoke_token(artist, manager, program):
    from tester_platform.api.services import token_revoke

    token = artist.api_tokens.get()
    token_revoke(token=token, actor=artist)


def _suspend_token(artist, manager, program):
    from tester_platform.access.services import token_flag_and_suspend

    token_flag_and_suspend(token=artist.api_tokens.get(), reason="flood", metrics={})


def _reinstate_token(artist, manager, program):
    from tester_platform.access.models import AccessFlag
    from tester_platform.access.services import access_flag_review

    access_flag_review(flag=AccessFlag.objects.get(artist=artist), reviewer=manager, undo=True)


def _deactivate(artist, manager, program):
    artist.is_active = False
    artist.save()


def _add_second_factor(artist, manager, program):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=artist, name="phone", confirmed=True)


def _remove_second_factor(artist, manager, program):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=artist).delete()


def _token(artist, manager, program):
    from tester_platform.api.services import token_create

    token_create(user=artist, name="cli")


def _suspended_token(artist, manager, program):
    _token(artist, manager, program)
    _suspend_token(artist, manager, program)


def _second_factor(artist, manager, program):
    _add_second_factor(artist, manager, program)


ARTIST_WRITES = {
    # name: (set-up before warming, the write)
    "enrollment suspended": (None, _suspend),
    "enrollment reinstated": (_suspend, _reinstate),
    "consent withdrawn": (None, _withdraw_consent),
    "a new consent version to sign": (None, _new_consent_version),
    "program paused": (None, _pause),
    "program resumed": (_pause, _unpause),
    "token revoked": (_token, _revoke_token),
    "token suspended": (_token, _suspend_token),
    "token reinstated": (_suspended_token, _reinstate_token),
    "account deactivated": (None, _deactivate),
    "second factor added": (None, _add_second_factor),
    "second factor removed": (_second_factor, _remove_second_factor),
}


@pytest.mark.parametrize("path", ["/", "/studio/", "/labour/earnings/"])
@pytest.mark.parametrize("change", ARTIST_WRITES)
def test_an_access_change_retires_the_artists_pages(client, artist, manager, program, change, path):
    before, write = ARTIST_WRITES[change]
    if before:
        before(artist, manager, program)
    client.force_login(artist)
    warm(client, path)
    write(artist, manager, program)
    assert client.get(path).get("X-Page-Cache") != "hit"


def test_what_an_access_change_shows_is_on_the_next_visit(client, artist, manager, program):
    client.force_login(artist)
    warm(client, "/")
    _suspend(artist, manager, program)
    response = client.get("/")
    assert response.get("X-Page-Cache") == "miss" and b"uspended" in response.content


def _ungroup(moderator, manager, program):
    moderator.groups.remove(Group.objects.get(name="moderator"))


def _unstaff(moderator, manager, program):
    from tester_platform.programs.services import program_staff_revoke

    program_staff_revoke(staff=ProgramStaff.objects.get(user=moderator, program=program), actor=manager)


def _grant_manager(moderator, manager, program):
    from tester_platform.programs.services import program_staff_grant

    program_staff_grant(program=program, user=moderator, role=ProgramStaff.Role.MANAGER, actor=manager)


STAFF_WRITES = {
    "role group removed": _ungroup,
    "program role revoked": _unstaff,
    "program role granted": _grant_manager,
    "second factor added": _add_second_factor,
    "account deactivated": _deactivate,
}


@pytest.mark.parametrize("change", STAFF_WRITES)
def test_a_staff_access_change_retires_the_moderation_queue(client, moderator, admin_user, program, change):
    client.force_login(moderator)
    warm(client, "/dashboard/sharing/")
    STAFF_WRITES[change](moderator, admin_user, program)
    response = client.get("/dashboard/sharing/")
    assert response.get("X-Page-Cache") != "hit"


def test_a_hit_runs_the_access_check_even_when_no_bump_reached_the_cache(client, moderator, monkeypatch):
    """The safety does not rest on the bumps: with every bump lost (a cache that dropped
    the write), a moderator who lost the role still gets 403, not the stored page."""
    from tester_platform import pagecache

    client.force_login(moderator)
    warm(client, "/dashboard/sharing/")
    monkeypatch.setattr(pagecache, "_bump_now", lambda scopes: None)
    moderator.groups.clear()
    assert client.get("/dashboard/sharing/").status_code == 403
    moderator.is_active = False
    moderator.save()
    response = client.get("/dashboard/sharing/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
