"""Read paths of exports: requests of a workspace, their API state, and the rows a file reads."""

import uuid
from datetime import datetime

from django.db import connection
from django.db.models import CharField, Func, Q, QuerySet, TextField
from django.db.models.functions import Cast

from events.exports.models import ExportFile, ExportRequest
from events.models import Event, EventDefinition
from events.selectors import definition_list
from people.models import Person, Workspace

ROW_FIELDS = (
    "id",
    "definition_id",
    "person_id",
    "occured_text",
    "received_text",
    "session_json",
    "properties_text",
    "flow_cause_text",
)


class ExportTime(Func):
    """A time as the export writes it, ``2022-09-14T15:00:35.495+0000`` (UTC, milliseconds
    truncated like ``formats.export_time``), formatted by the database: in Python it cost
    more than the rest of a line."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=(
                "to_char(%(expressions)s AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS.MS"+0000"\')'
            ),
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
        return self.as_sql(
            compiler,
            connection,
            template=(
                "substr(%(expressions)s, 1, 10) || 'T' || substr(%(expressions)s, 12, 8) || '.' || "
                "substr(substr(%(expressions)s, 21) || '000', 1, 3) || '+0000'"
            ),
            **extra_context,
        )


class JsonQuote(Func):
    """A text column as JSON text: ``"a \\"b\\""``, or ``null``."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="COALESCE(to_json(%(expressions)s)::text, 'null')",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="json_quote(%(expressions)s)", **extra_context
        )


def export_list(*, workspace: Workspace) -> QuerySet[ExportRequest]:
    return ExportRequest.objects.filter(workspace=workspace)


def export_get(*, workspace: Workspace, request_id: str) -> ExportRequest | None:
    """Return the workspace's export with this request id (None for another's or a bad id)."""
    try:
        parsed = uuid.UUID(str(request_id))
    except ValueError:
        return None
    return export_list(workspace=workspace).filter(request_id=parsed).first()


def export_file_names(*, export: ExportRequest) -> list[str]:
    return list(
        ExportFile.objects.filter(request=export, status=ExportFile.Status.DONE)
        .order_by("seq")
        .values_list("name", flat=True)
    )


def export_state(*, export: ExportRequest) -> dict:
    """The status answer of the API (§9 fixed contract)."""
    return {
        "requestId": str(export.request_id),
        "status": export.status,
        "files": export_file_names(export=export),
        "eventCount": export.events_written,
        "progress": export.progress,
        "error": export.error or None,
    }


def export_definitions(*, workspace: Workspace) -> QuerySet[EventDefinition]:
    """Definitions whose events the workspace can export (built-in, its own, its parents')."""
    return definition_list(workspace=workspace)


class _Codes(dict):
    """Definition pk → definition id, loading one outside the catalogue on first use."""

    def __missing__(self, pk: int) -> str:
        code = EventDefinition.objects.filter(pk=pk).values_list("definition_id", flat=True).first()
        self[pk] = code or str(pk)
        return self[pk]


def export_codes(*, export: ExportRequest) -> dict[int, str]:
    """Definition pk → definition id (code) for the definitions the export may meet."""
    return _Codes(export_definitions(workspace=export.workspace).values_list("pk", "definition_id"))


# PostgreSQL: the ids as one array parameter rather than thousands of them.
PEOPLE_SQL = f"SELECT id, external_id FROM {Person._meta.db_table} WHERE id = ANY(%s)"


def person_external_ids(*, person_ids) -> dict[int, str | None]:
    """Person id → external id for these people (thousands at a time)."""
    ids = list(person_ids)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PEOPLE_SQL, [ids])
            return dict(cursor.fetchall())
    return dict(Person.objects.filter(pk__in=ids).values_list("pk", "external_id"))


def event_time(*, event_id: int) -> datetime:
    """The exact occurred time of one event (the keyset where the next file starts)."""
    return Event.objects.filter(pk=event_id).values_list("occurred_at", flat=True).get()


def export_events(*, export: ExportRequest, after: tuple[datetime, int] | None) -> QuerySet:
    """The export's events after the keyset ``after`` (occurred time, id): its workspace,
    time range and definitions, none newer than its watermark."""
    query = Event.objects.filter(
        workspace_id=export.workspace_id,
        occurred_at__gte=export.start_time,
        occurred_at__lt=export.end_time,
    )
    if export.watermark_id is not None:
        query = query.filter(id__lte=export.watermark_id)
    if export.definition_ids:
        pks = list(
            export_definitions(workspace=export.workspace)
            .filter(definition_id__in=export.definition_ids)
            .values_list("pk", flat=True)
        )
        query = query.filter(definition_id__in=pks)
    if after is not None:
        # The first condition lets the (workspace, occurred_at) index start at the keyset.
        occurred, event_id = after
        query = query.filter(occurred_at__gte=occurred).filter(
            Q(occurred_at__gt=occurred) | Q(id__gt=event_id)
        )
    return query


def export_rows(*, export: ExportRequest, after: tuple[datetime, int] | None) -> QuerySet:
    """``export_events`` in (occurred time, id) order as tuples of ``ROW_FIELDS``, the time
    and JSON columns as text (``writer.Row``)."""
    return (
        export_events(export=export, after=after)
        .order_by("occurred_at", "id")
        .annotate(
            occured_text=ExportTime("occurred_at"),
            received_text=ExportTime("received_at"),
            session_json=JsonQuote("session_id"),
            properties_text=Cast("properties", TextField()),
            flow_cause_text=Cast("flow_cause", TextField()),
        )
        .values_list(*ROW_FIELDS)
    )
