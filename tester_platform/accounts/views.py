from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from tester_platform.accounts.forms import TwoFactorForm
from tester_platform.accounts.roles import is_staff_member
from tester_platform.audit.services import audit_record


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Set up (first time) or pass TOTP. Staff need it in production before staff pages."""
    user = request.user
    if not (user.is_staff or is_staff_member(user)):
        return HttpResponseForbidden("Two-factor sign-in is for staff accounts.")
    next_url = request.GET.get("next") or "/dashboard/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    setting_up = device is None
    if setting_up:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False
        )
    form = TwoFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"]):
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit_record(action="account.2fa_enabled", actor=user, subject=user, target=user)
            otp_login(request, device)
            return redirect(next_url)
        form.add_error("otp_token", "That code is not right, or it has expired. Try the current one.")
    qr_svg = ""
    if setting_up:
        buffer = io.BytesIO()
        qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        qr_svg = buffer.getvalue().decode()
    return render(
        request,
        "accounts/two_factor.html",
        {"form": form, "setting_up": setting_up, "qr_svg": qr_svg, "device": device},
        status=400 if form.errors else 200,
    )
