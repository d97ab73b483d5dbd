"""The answer to a login refused by the admin login throttle (django-axes).

Axes counts failed logins per user name and address (``AXES_*`` in ``cdp.settings``); once
locked out, even the right password is refused. This renders the admin's own login page, with
the reason and when to try again, as a 429, so a person sees why the form does not work.
"""

from axes.helpers import get_cool_off
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


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
