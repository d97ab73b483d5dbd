"""The workspace's allowed origins set in the admin with clicks (§2): Debian's headless
Chromium, driven by Playwright, against pytest-django's live server. A bad origin is refused
naming the field; a saved list opens the Segment-compatible endpoints to that page."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server's requests commit
]


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(username="ada", password="pw-ada-123", email="")


def test_allowed_origins_set_in_the_admin(browser, live_server, workspace, admin_user):
    page = browser.new_context().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    change = f"/admin/people/workspace/{workspace.pk}/change/"
    page.goto(f"{live_server.url}/admin/login/?next={change}")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#id_allowed_origins")

    page.fill("#id_allowed_origins", "shop.example.com")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    error = page.locator(".field-allowed_origins .errorlist").text_content()
    assert "'shop.example.com' is not an origin" in error

    page.fill("#id_allowed_origins", "https://Shop.example.com/\nhttp://localhost:3000")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert page.input_value("#id_allowed_origins") == (
        "https://shop.example.com\nhttp://localhost:3000"
    )
    assert not errors

    workspace.refresh_from_db()
    assert workspace.allowed_origins == ["https://shop.example.com", "http://localhost:3000"]
    preflight = Client().options(
        "/v1/t", HTTP_ORIGIN="http://localhost:3000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight["Access-Control-Allow-Origin"] == "http://localhost:3000"
