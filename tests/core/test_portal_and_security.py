import json

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tester_platform.consent.models import ConsentRecord
from tests.factories import PASSWORD


def logged_in(client, user):
    client.force_login(user)
    return client


PORTAL_PAGES = [
    "/",
    "/programs/main/",
    "/programs/main/consent/",
    "/programs/main/consent/withdraw/",
    "/programs/main/onboarding/profile/",
    "/programs/main/onboarding/payout/",
    "/me/activity/",
    "/me/export.zip",
]


@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_portal_pages_need_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_portal_pages_render_for_the_owner(client, artist, path):
    assert logged_in(client, artist).get(path).status_code == 200


@pytest.mark.parametrize("path", [p for p in PORTAL_PAGES if "/programs/main/" in p and p != "/programs/main/"])
def test_another_programs_pages_are_404_for_someone_not_enrolled(client, outsider, program, path):
    assert logged_in(client, outsider).get(path).status_code == 404


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/workers/", "/account/two-factor/"])
def test_artists_cannot_reach_staff_pages(client, artist, path):
    assert logged_in(client, artist).get(path).status_code == 403


@pytest.mark.parametrize("who", ["moderator", "manager", "finance_user", "admin_user"])
def test_each_staff_role_reaches_the_staff_dashboard(client, request, who, program):
    user = request.getfixturevalue(who)
    response = logged_in(client, user).get("/dashboard/")
    assert response.status_code == 200
    assert (program.name.encode() in response.content) == (who != "other_moderator")


def test_other_moderator_does_not_see_this_program(client, other_moderator, program):
    assert program.name.encode() not in logged_in(client, other_moderator).get("/dashboard/").content


def test_export_contains_everything_about_me_and_nothing_about_others(client, artist, other_artist):
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(logged_in(client, artist).get("/me/export.zip").content))
    assert json.loads(archive.read("profile.json"))["email"] == artist.email
    assert len(json.loads(archive.read("consent_records.json"))) == 1
    assert json.loads(archive.read("audit_events.json"))
    assert not any(other_artist.email.encode() in archive.read(name) for name in archive.namelist())


def test_withdrawing_from_the_portal_explains_and_records(client, artist, program):
    page = logged_in(client, artist).get("/programs/main/consent/withdraw/")
    assert b"Money you earned is still paid" in page.content
    assert client.post("/programs/main/consent/withdraw/").status_code == 302
    assert ConsentRecord.objects.filter(artist=artist).first().kind == "withdraw"


def test_about_me_lists_events_about_me(client, artist):
    page = logged_in(client, artist).get("/me/activity/")
    assert b"consent.signed" in page.content


def test_staff_need_totp_when_2fa_is_required(client, moderator, settings):
    settings.STAFF_2FA_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code below would otherwise delay the right one
    logged_in(client, moderator)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and reverse("accounts:two_factor") in response["Location"]
    setup = client.get(reverse("accounts:two_factor"))
    assert b"<svg" in setup.content
    device = TOTPDevice.objects.get(user=moderator)
    bad = client.post(reverse("accounts:two_factor") + "?next=/dashboard/", {"otp_token": "000000"})
    assert bad.status_code == 400
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"
    ok = client.post(reverse("accounts:two_factor") + "?next=/dashboard/", {"otp_token": code})
    assert ok.status_code == 302 and ok["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert TOTPDevice.objects.get(user=moderator).confirmed


def test_artists_are_not_asked_for_2fa(client, artist, settings):
    settings.STAFF_2FA_REQUIRED = True
    assert logged_in(client, artist).get("/").status_code == 200


def test_repeated_wrong_passwords_lock_the_account_out(client, artist, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"login": artist.email, "password": "wrong-password-x"})
    response = client.post("/accounts/login/", {"login": artist.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_sign_in_with_email_and_password_works(client, artist):
    response = client.post("/accounts/login/", {"login": artist.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_pages_send_a_csp_without_inline_script_and_deny_framing(client, artist):
    response = logged_in(client, artist).get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert b"<script>" not in response.content


def test_staff_see_workers_with_their_state(client, moderator):
    from django.utils import timezone

    from generation.models import Worker

    Worker.objects.create(
        hostname="gpu-a@host",
        queues=["gpu.wan-tiny"],
        device="cuda",
        device_name="NVIDIA H100",
        started_at=timezone.now(),
        last_heartbeat=timezone.now(),
    )
    page = logged_in(client, moderator).get("/dashboard/workers/")
    assert page.status_code == 200 and b"gpu-a@host" in page.content and b"NVIDIA H100" in page.content


@pytest.mark.parametrize(
    "path", ["/programs/main/consent/withdraw/", "/studio/", "/account/tokens/", "/labour/feedback/new/"]
)
def test_forms_refuse_posts_without_a_csrf_token(artist, path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(artist)
    assert client.post(path, {}).status_code == 403
    page = client.get("/")
    assert b'hx-headers=\'{"X-CSRFToken": "' in page.content  # every htmx request carries it


def test_session_cookies_are_secure_and_hsts_is_on_in_production():
    import os
    import subprocess
    import sys

    from tests.core.test_layout import PRODUCTION_ENV, ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "DJANGO_"))}
    env.update(
        PRODUCTION_ENV,
        ATELIER_VAR_DIR=os.environ["ATELIER_TEST_RUN_DIR"] + "/prod-check",
        DJANGO_SETTINGS_MODULE="tester_platform.settings",
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS >= 31536000, "
        "s.STAFF_2FA_REQUIRED, s.ACCOUNT_EMAIL_VERIFICATION, s.X_FRAME_OPTIONS, s.DEBUG)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "True", "True", "True", "mandatory", "DENY", "False"], out.stderr
