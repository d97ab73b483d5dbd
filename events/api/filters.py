"""django-filter filters of the events list (§6): person, definitions, time ranges, year."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from cdp.ids import MAX_ID as BIGINT_MAX
from events.models import Event


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO-8601 time that also exists in UTC (``0001-01-01T00:00+05:00`` does not, and
    would overflow when the database adapts it)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(UTC)
            except OverflowError as exc:
                raise forms.ValidationError("is out of range", code="invalid") from exc
        return parsed


class TimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (``NumberFilter`` takes decimals, which ids and years are not)."""

    field_class = forms.IntegerField


class CommaSeparatedCharFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """``?definitionId=a,b`` → ``definition_id IN (a, b)``."""


class EventFilter(django_filters.FilterSet):
    person = IntegerFilter(
        field_name="person_id", min_value=1, max_value=BIGINT_MAX, help_text="Internal person id."
    )
    definitionId = CommaSeparatedCharFilter(
        field_name="definition__definition_id",
        lookup_expr="in",
        help_text="One or more definition ids, comma separated.",
    )
    externalId = django_filters.CharFilter(field_name="external_id")
    occurredFrom = TimeFilter(
        field_name="occurred_at", lookup_expr="gte", help_text="ISO-8601, inclusive."
    )
    occurredTo = TimeFilter(
        field_name="occurred_at", lookup_expr="lt", help_text="ISO-8601, exclusive."
    )
    receivedFrom = TimeFilter(field_name="received_at", lookup_expr="gte")
    receivedTo = TimeFilter(field_name="received_at", lookup_expr="lt")
    # Bounded: a year outside 1..9999 has no datetime range and would crash the lookup.
    year = IntegerFilter(
        field_name="occurred_at",
        lookup_expr="year",
        min_value=1,
        max_value=9999,
        help_text="Calendar year of the occurred time (UTC).",
    )
    origin = django_filters.ChoiceFilter(choices=Event.Origin.choices)

    class Meta:
        model = Event
        fields: list[str] = []
