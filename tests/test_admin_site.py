"""The admin as a whole, through real requests: no "View site" link to a 404, an "API docs"
link in the user tools, the site's icon on every page and at /favicon.ico, and no scheduler
internals for marketers (django-celery-beat's clocked and solar screens are gone for everyone;
periodic tasks stay for superusers)."""

import re

import pytest
from django.contrib.auth.models import Group

from tests.people.test_admin import admin_url, login, make_staff, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(db):
    from django.contrib.auth.models import User

    return login(User.objects.create_superuser(username="root", password="pw", email="r@x.io"))


def test_user_tools_link_the_api_docs_and_not_a_missing_site(workspace):
    page = page_text(login(make_staff("mia", workspace)).get(admin_url("index")))
    tools = re.search(r'<div id="user-tools">(.*?)</div>', page, re.S).group(1)
    assert '<a href="/api/v1/docs" id="cdp-api-docs">API docs</a>' in tools
    assert "View site" not in page
    assert '<link rel="icon" href="/static/cdp/favicon.svg" type="image/svg+xml">' in page


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/cdp/favicon.svg"


def test_api_docs_link_target_exists(client):
    assert client.get("/api/v1/docs").status_code == 200


def test_marketers_see_no_scheduler_screens(workspace):
    """The Marketer group holds no django-celery-beat permission; its index lists none of
    the scheduler's screens."""
    marketer = Group.objects.get(name="Marketer")
    assert not marketer.permissions.filter(content_type__app_label="django_celery_beat").exists()
    page = page_text(login(make_staff("mia", workspace)).get(admin_url("index")))
    assert "/admin/people/" in page  # the index lists the marketer's screens
    assert "django_celery_beat" not in page
    assert "Periodic tasks" not in page
    assert "Clocked" not in page


def test_superusers_keep_periodic_tasks_but_not_clocked_or_solar(superuser_client):
    page = page_text(superuser_client.get(admin_url("index")))
    assert "/admin/django_celery_beat/periodictask/" in page
    assert "/admin/django_celery_beat/clockedschedule/" not in page
    assert "/admin/django_celery_beat/solarschedule/" not in page
    assert superuser_client.get("/admin/django_celery_beat/clockedschedule/").status_code == 404
    assert (
        superuser_client.get(admin_url("django_celery_beat_periodictask_changelist")).status_code
        == 200
    )
