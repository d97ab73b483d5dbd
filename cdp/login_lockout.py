"""The answer to a login refused by the admin login throttle (django-axes).

Axes counts failed logins per user name and address (``AXES_*`` in ``cdp.settings``); once
locked out, even the right password is refused. This renders the admin's own login page, with
the reason and when to try again, as a 429, so a person sees why the form does not work.
"""

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str | None:
    """Return the address the throttle counts: the connecting one, or behind a proxy
    (``DJANGO_BEHIND_PROXY``) the last hop of ``X-Forwarded-For``, which that proxy appended
    (earlier hops are the client's to write)."""
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if hops[-1]:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")


def lockout_message(request: HttpRequest) -> str:
    """Return what the login page says to a locked-out user."""
    cool_off = get_cool_off(request)
    if cool_off:
        minutes = max(1, round(cool_off.total_seconds() / 60))
        unit = "minute" if minutes == 1 else "minutes"
        wait = f"Try again in {minutes} {unit}, or ask an administrator to unlock it."
    else:
        wait = "Ask an administrator to unlock it."
    return f"Too many failed logins for this user from your address: login is locked. {wait}"


def lockout_response(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """Render the admin login page with the lock-out message, status 429."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "app_path": request.get_full_path(),
        "form": form,
        "next": request.POST.get("next", ""),
        "lockout_message": lockout_message(request),
    }
    return render(request, "admin/login_locked.html", context, status=429)
