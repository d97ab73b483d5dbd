"""The admin login is throttled per user name and address (django-axes).

After ``CDP_LOGIN_FAILURE_LIMIT`` wrong passwords for one user from one address, that pair is
refused, the right password included, with the admin's login page saying why (429). Other
users and addresses log in as usual; a superuser unlocks by deleting the access attempt in the
admin; the lock ends by itself after the cool-off. API keys are not Django logins and are not
counted.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.api_helpers import key_client, workspace_api
from tests.people.test_admin import login, make_staff

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
HOME = "203.0.113.7"  # documentation addresses: the test client sends nothing anywhere
AWAY = "198.51.100.9"


@pytest.fixture
def mia(workspace) -> User:
    user = make_staff("mia", workspace)
    user.set_password("right-pw-123")
    user.save()
    return user


def _login(username: str, password: str, address: str = HOME) -> tuple[Client, object]:
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return client, response


def _logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def _fail(times: int, username: str = "mia", address: str = HOME) -> list[int]:
    return [_login(username, "wrong", address)[1].status_code for _ in range(times)]


def test_five_failures_lock_the_user_at_that_address(settings, mia):
    """The fifth wrong password locks out; the right one is then refused with the admin's login
    page saying why, as a 429, and no session is opened."""
    assert settings.AXES_FAILURE_LIMIT == 5
    assert _fail(4) == [200] * 4
    assert _fail(1) == [429]
    client, response = _login("mia", "right-pw-123")
    assert response.status_code == 429
    text = response.content.decode()
    assert 'id="cdp-login-locked"' in text
    assert "Too many failed logins" in text
    assert "Try again in 15 minutes" in text
    assert 'id="login-form"' in text  # still the admin's own page
    assert not _logged_in(client)


def test_other_addresses_and_users_are_not_affected(mia, workspace):
    """The lock is for the pair: the same user from another address, and another user from
    the same address, log in."""
    ben = make_staff("ben", workspace)
    ben.set_password("ben-pw-456")
    ben.save()
    _fail(6)
    client, response = _login("mia", "right-pw-123", AWAY)
    assert response.status_code == 302
    assert _logged_in(client)
    client, response = _login("ben", "ben-pw-456", HOME)
    assert response.status_code == 302
    assert _logged_in(client)


def test_a_superuser_unlocks_in_the_admin(mia):
    """Deleting the access attempt from the admin's change list (the delete action) lifts the
    lock at once."""
    _fail(5)
    assert _login("mia", "right-pw-123")[1].status_code == 429
    root = login(User.objects.create_superuser("root", password="pw"))
    changelist = root.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    assert "mia" in changelist.content.decode()
    attempt = AccessAttempt.objects.get(username="mia")
    confirm = root.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk]},
    )
    assert confirm.status_code == 200  # the confirmation page
    done = root.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert done.status_code == 302
    assert not AccessAttempt.objects.filter(username="mia").exists()
    client, response = _login("mia", "right-pw-123")
    assert response.status_code == 302
    assert _logged_in(client)


def test_marketers_and_developers_do_not_see_the_attempts(mia, workspace):
    """The access attempts (user names and addresses) are for superusers only."""
    _fail(1)
    developer = login(make_staff("dev", workspace, group="Developer"))
    for client in (login(mia), developer):
        assert client.get("/admin/axes/accessattempt/").status_code == 403
        assert "/admin/axes/" not in client.get("/admin/").content.decode()


def test_the_cool_off_is_configurable(settings, mia):
    """With a 2-minute cool-off the page says so and the lock ends by itself after it."""
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)
    settings.AXES_FAILURE_LIMIT = 3
    assert _fail(3) == [200, 200, 429]
    response = _login("mia", "right-pw-123")[1]
    assert response.status_code == 429
    assert "Try again in 2 minutes" in response.content.decode()
    AccessAttempt.objects.filter(username="mia").update(
        attempt_time=timezone.now() - timedelta(minutes=3)
    )
    client, response = _login("mia", "right-pw-123")
    assert response.status_code == 302
    assert _logged_in(client)


def test_a_success_before_the_limit_starts_the_count_again(mia):
    """A right password resets the count: four failures, a login, four failures still let the
    user in."""
    _fail(4)
    assert _login("mia", "right-pw-123")[1].status_code == 302
    _fail(4)
    assert _login("mia", "right-pw-123")[1].status_code == 302


def test_api_keys_are_not_throttled_as_logins(workspace):
    """Wrong API keys are refused as before and the right key keeps working: key checks do
    not go through Django's login."""
    api = workspace_api(workspace)
    for _ in range(8):
        assert key_client("cdp_sk_wrong").get("/api/v1/definitions").status_code == 401
    assert api.secret.get("/api/v1/definitions").status_code == 200
    assert not AccessAttempt.objects.exists()


def test_the_shell_command_unlocks(mia):
    """`manage.py axes_reset_username` lifts the lock, for when no superuser can log in."""
    _fail(5)
    assert _login("mia", "right-pw-123")[1].status_code == 429
    call_command("axes_reset_username", "mia")
    assert _login("mia", "right-pw-123")[1].status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts(settings, mia):
    """With DJANGO_BEHIND_PROXY the address is the last X-Forwarded-For hop (the one the proxy
    appended): the locked client stays locked whatever it writes in front, another client
    behind the same proxy logs in."""
    settings.BEHIND_PROXY = True

    def through_proxy(forwarded: str, password: str) -> int:
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        return client.post(LOGIN, {"username": "mia", "password": password}).status_code

    assert [through_proxy(HOME, "wrong") for _ in range(5)][-1] == 429
    assert through_proxy(f"192.0.2.1, {HOME}", "right-pw-123") == 429
    assert through_proxy(AWAY, "right-pw-123") == 302
