"""The transaction analytics statements run in on PostgreSQL: its time limit ends a long
statement with a coded error, it turns JIT off and raises ``work_mem``, and planner settings
made for one statement are put back afterwards."""

import pytest
from django.db import connection

from cdp.errors import ErrorCode, ServiceError
from events.analytics import sql

pytestmark = [pytest.mark.django_db, pytest.mark.skipif("connection.vendor != 'postgresql'")]


def _setting(cursor, name: str) -> str:
    cursor.execute("SELECT current_setting(%s)", [name])
    return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # statement_limits' own transaction, not a savepoint
def test_statement_limits_set_the_analytics_settings_for_their_transaction_only(settings):
    settings.CDP_ANALYTICS_WORK_MEM_MB = 96
    with connection.cursor() as cursor:
        outside = _setting(cursor, "work_mem")
        with sql.statement_limits():
            assert _setting(cursor, "statement_timeout") == "2min"  # TIMEOUT_MS
            assert _setting(cursor, "jit") == "off"
            assert _setting(cursor, "work_mem") == "96MB"
        assert _setting(cursor, "work_mem") == outside


def test_a_statement_over_the_time_limit_is_a_coded_error(monkeypatch):
    monkeypatch.setattr(sql, "TIMEOUT_MS", 50)
    with (
        pytest.raises(ServiceError) as raised,
        sql.statement_limits(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(1)")
    error = raised.value.errors[0]
    assert error.code == ErrorCode.QUERY_TIMEOUT
    assert "shorter range" in error.message


def test_planner_settings_are_put_back_after_their_statements():
    with sql.statement_limits(), connection.cursor() as cursor:
        with sql.planner_settings(cursor, enable_seqscan="off", parallel_tuple_cost="0"):
            assert _setting(cursor, "enable_seqscan") == "off"
            assert _setting(cursor, "parallel_tuple_cost") == "0"
        assert _setting(cursor, "enable_seqscan") == "on"
        assert _setting(cursor, "parallel_tuple_cost") == "0.1"
