"""The ingestion log (§5) in the admin (filters by reason, endpoint and time, through a
logged-in staff user's HTTP requests) and its pruning by age: the service, the beat task and
the opportunistic pruning of the embedded default, which runs no beat."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from cdp.errors import FieldError
from events.ingestion_log import PRUNE_CACHE_KEY, ingestion_log_prune, ingestion_log_record
from events.models import IngestionLogEntry
from events.tasks import ingestion_log_prune_task
from tests.api_helpers import workspace_api
from tests.people.test_admin import admin_url, changelist_rows, login, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prune_due():
    """Each test starts as if no pruning happened lately (the cache may be a shared Redis)."""
    cache.delete(PRUNE_CACHE_KEY)
    yield
    cache.delete(PRUNE_CACHE_KEY)


def record(workspace, endpoint: str, code: str, field: str = "f", *, days_ago: float = 0):
    ingestion_log_record(
        workspace=workspace,
        endpoint=endpoint,
        rejected=[({"sample": code}, [FieldError(field, code, "bad")])],
    )
    entry = IngestionLogEntry.objects.filter(workspace=workspace).latest("id")
    if days_ago:
        IngestionLogEntry.objects.filter(pk=entry.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return entry


@pytest.fixture
def log(workspace, other_workspace):
    """Entries of two endpoints and reasons, some 10 days old, and one of another
    workspace."""
    return {
        "api_required_old": record(workspace, "api", "required", "definitionId", days_ago=10),
        "api_invalid": record(workspace, "api", "invalid_json", "body"),
        "qa_required": record(workspace, "quick_audience", "required", "[0].eventCode"),
        "dmhub_old": record(workspace, "dmhub", "person_not_found", "customerId", days_ago=10),
        "theirs": record(other_workspace, "api", "required", "definitionId"),
    }


@pytest.fixture
def developer_client(workspace):
    return login(make_staff("dev", workspace, group="Developer"))


def listed(client, **params) -> set[int]:
    response = client.get(admin_url("events_ingestionlogentry_changelist"), params)
    assert response.status_code == 200, response.content[:300]
    return {e.pk for e in changelist_rows(response)}


def pks(log, *names) -> set[int]:
    return {log[n].pk for n in names}


def test_changelist_shows_the_workspace_log_with_reason_and_payload(developer_client, log):
    assert listed(developer_client) == pks(
        log, "api_required_old", "api_invalid", "qa_required", "dmhub_old"
    )
    response = developer_client.get(
        admin_url("events_ingestionlogentry_change", log["qa_required"].pk)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "[0].eventCode" in page
    assert "&quot;sample&quot;: &quot;required&quot;" in page


def test_changelist_filters_by_reason(developer_client, log):
    response = developer_client.get(admin_url("events_ingestionlogentry_changelist"))
    assert "?code=required" in response.content.decode()  # the reason filter offers it
    assert listed(developer_client, code="required") == pks(log, "api_required_old", "qa_required")
    assert listed(developer_client, code="person_not_found") == pks(log, "dmhub_old")


def test_changelist_filters_by_endpoint(developer_client, log):
    assert listed(developer_client, endpoint__exact="api") == pks(
        log, "api_required_old", "api_invalid"
    )
    assert listed(developer_client, endpoint__exact="quick_audience") == pks(log, "qa_required")
    assert listed(developer_client, endpoint__exact="api", code="required") == pks(
        log, "api_required_old"
    )


def test_changelist_filters_by_time(developer_client, log):
    now = timezone.now()  # aware times, as the admin's own date filter links carry
    recent = {
        "created_at__gte": str(now - timedelta(days=7)),
        "created_at__lt": str(now + timedelta(days=1)),
    }
    assert listed(developer_client, **recent) == pks(log, "api_invalid", "qa_required")
    older = {"created_at__lt": str(now - timedelta(days=7))}
    assert listed(developer_client, **older) == pks(log, "api_required_old", "dmhub_old")
    this_year = timezone.now().year
    assert log["api_invalid"].pk in listed(developer_client, created_at__year=str(this_year))


def test_marketer_cannot_read_the_log(workspace, log):
    marketer = login(make_staff("mia", workspace))
    response = marketer.get(admin_url("events_ingestionlogentry_changelist"))
    assert response.status_code == 403


# Pruning ---------------------------------------------------------------------------------------


def test_prune_removes_entries_older_than_the_setting_and_keeps_newer(workspace, settings):
    settings.CDP_INGESTION_LOG_DAYS = 30
    old = record(workspace, "api", "required", days_ago=31)
    kept = [record(workspace, "api", "required", days_ago=29), record(workspace, "sdk", "x")]
    assert ingestion_log_prune() == 1
    assert not IngestionLogEntry.objects.filter(pk=old.pk).exists()
    assert set(IngestionLogEntry.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    settings.CDP_INGESTION_LOG_DAYS = 7
    assert ingestion_log_prune_task.delay() is not None  # the beat task, run eagerly here
    assert list(IngestionLogEntry.objects.values_list("pk", flat=True)) == [kept[1].pk]


def test_rejections_prune_the_log_at_most_once_an_hour(workspace, settings):
    """Without a beat (the embedded default), recording a rejection prunes old entries when
    no call did within the hour: the first rejection after that prunes, the next ones don't.
    Through the HTTP path of a native ingest route."""
    settings.CDP_INGESTION_LOG_DAYS = 30
    api = workspace_api(workspace)
    first = record(workspace, "api", "required")  # this call pruned: the next hour is taken
    old = record(workspace, "api", "required", days_ago=40)
    response = api.secret.post("/api/v1/events", {"person": {"externalId": "ann"}})
    assert response.status_code == 400
    assert IngestionLogEntry.objects.filter(pk=old.pk).exists()  # pruned within the hour
    assert IngestionLogEntry.objects.count() == 3
    cache.delete(PRUNE_CACHE_KEY)  # the hour has passed
    response = api.secret.post("/api/v1/events", {"person": {"externalId": "ann"}})
    assert response.status_code == 400
    assert not IngestionLogEntry.objects.filter(pk=old.pk).exists()
    assert IngestionLogEntry.objects.filter(pk=first.pk).exists()
    assert IngestionLogEntry.objects.count() == 3
    assert cache.get(PRUNE_CACHE_KEY) is not None


def test_an_unreachable_cache_does_not_break_recording(workspace, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    assert record(workspace, "api", "required").code == "required"
