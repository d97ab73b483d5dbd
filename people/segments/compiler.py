"""Compile a validated rule tree into one ``Q`` over ``Person``: the whole audience in one query.

Profile conditions are column or JSON lookups; behaviour is ``EXISTS`` over events or
aggregates, or ``IN`` / ``NOT IN`` over events grouped per person with a ``HAVING`` count.
Counts that zero satisfies (``< 3``, ``= 0``) are written as "not among those whose count
breaks the rule", so people without any event count as 0 without a per-person subquery.

Every condition is two-valued (true or false, never SQL NULL): JSON lookups add an explicit
"is present" test, so ``none`` (NOT) and ``not_equals`` treat a missing value as "not equal".
The same SQL runs on PostgreSQL and SQLite. "A list contains X" (custom list attributes) is a
case-insensitive match of ``"X"`` in the list's JSON text, which both databases can run.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import Count, Exists, F, FloatField, Lookup, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)

from people.models import Identifier, Person, PersonTag
from people.segments import conditions as c
from people.segments.models import SegmentMembership
from people.segments.sources import event_source

LOOKUPS = {"=": "exact", ">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}
# The comparison that breaks a count rule satisfied by 0 (for "=", only "= 0" is).
BREAKS = {"<": ">=", "<=": ">", "=": ">"}


@dataclass(frozen=True)
class Context:
    """What an evaluation is relative to: the workspace, the time, optionally some people."""

    workspace_id: int
    now: datetime
    person_ids: tuple[int, ...] | None = None


class _AnyOf(Lookup):
    """``column = ANY(%s)`` with the ids as one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


def ids_in(name: str, ids) -> Q:
    """``name IN ids``; on PostgreSQL one array parameter instead of one per id (parsing
    3,000 placeholders took half of re-evaluating 1,000 people)."""
    if connection.vendor == "postgresql":
        return Q(_AnyOf(F(name), ids))
    return Q(**{f"{name}__in": ids})


def people_matching(
    *, workspace_id: int, tree: c.Group, now: datetime, person_ids=None
) -> QuerySet[Person]:
    """Return the people of the workspace (of ``person_ids`` when given) the tree selects."""
    ctx = Context(
        workspace_id=workspace_id,
        now=now,
        person_ids=tuple(person_ids) if person_ids is not None else None,
    )
    query = Person.objects.filter(workspace_id=workspace_id)
    if ctx.person_ids is not None:
        query = query.filter(ids_in("pk", ctx.person_ids))
    return query.filter(compile_node(tree, ctx))


# Planner settings for whole-audience queries (refresh, preview), measured on 1M people and
# 10M events (bench/segments.py, 2 cores). A per-person event count ("pageView >= 5 in 30
# days": 2.3M index entries, 900k people) needs work_mem (hashed at the default 4 MB it
# spilled to disk, 3x slower), is grouped faster by sorting than by hashing (0.95 s against
# 1.55 s), and a parallel plan makes it slower (2.3 s: each worker builds the same count
# again for its share of people). Trees without such a count, or whose events are read from
# the table for their properties, gain from two workers (attribute only 0.12 -> 0.07 s,
# searched + chose, no checkout 0.35 -> 0.18 s, a property filter over 2.3M page views
# 1.1 -> 0.67 s).
AUDIENCE_SETTINGS = (("work_mem", "64MB"), ("enable_hashagg", "off"))
SERIAL = (("max_parallel_workers_per_gather", "0"),)
PARALLEL = (("max_parallel_workers_per_gather", "2"),)


def _counts_from_index(tree: c.Group) -> bool:
    """Whether the tree counts events per person from the index alone (no property filter,
    not the all-time aggregates, a comparison other than "at least once")."""
    found = False
    for leaf in c.leaves(tree):
        if isinstance(leaf, c.SegmentCondition) and leaf.inner is not None:
            found |= _counts_from_index(leaf.inner)
        if not isinstance(leaf, c.EventCondition) or uses_aggregates(leaf):
            continue
        if leaf.filters:
            return False
        if (leaf.count_operator, leaf.count) not in ((">=", 1), (">", 0)):
            found = True
    return found


def audience_settings_apply(tree: c.Group) -> None:
    """Apply the planner settings for ``tree``'s audience query to the current transaction
    (PostgreSQL; no-op elsewhere)."""
    if connection.vendor != "postgresql":
        return
    settings = AUDIENCE_SETTINGS + (SERIAL if _counts_from_index(tree) else PARALLEL)
    with connection.cursor() as cursor:
        for name, value in settings:
            cursor.execute(f"SET LOCAL {name} = '{value}'")


def compile_node(node, ctx: Context) -> Q:
    """Return the ``Q`` selecting the people for whom ``node`` holds."""
    if isinstance(node, c.Group):
        parts = [compile_node(child, ctx) for child in node.children]
        if node.op == "all":
            return reduce(and_, parts)
        combined = reduce(or_, parts)
        return combined if node.op == "any" else ~combined
    if isinstance(node, c.AttributeCondition):
        if node.column:
            return column_q(node.column, node.value_type, node.operator, node.value, ctx.now)
        return json_q(
            "attributes", node.custom_key, node.value_type, node.operator, node.value, ctx.now
        )
    if isinstance(node, c.TagCondition):
        q = Q(Exists(PersonTag.objects.filter(person_id=OuterRef("pk"), name=node.name)))
        return q if node.has else ~q
    if isinstance(node, c.IdentifierCondition):
        q = Q(
            Exists(Identifier.objects.filter(person_id=OuterRef("pk"), type=node.identifier_type))
        )
        return q if node.has else ~q
    if isinstance(node, c.EventCondition):
        q = event_q(node, ctx)
        return q if node.occurred else ~q
    if isinstance(node, c.AggregateCondition):
        return aggregate_q(node, ctx)
    if isinstance(node, c.SegmentCondition):
        q = segment_q(node, ctx)
        return q if node.member else ~q
    raise TypeError(f"unknown condition {node!r}")


# Profile ----------------------------------------------------------------------------------------


def column_q(column: str, value_type: str, op: str, value, now: datetime) -> Q:
    """A condition on a standard column of Person."""
    if op in ("is_set", "is_not_set"):
        q = Q(**{f"{column}__isnull": False})
        if value_type == c.TEXT:
            q &= ~Q(**{column: ""})
        return q if op == "is_set" else ~q
    if op == "not_equals":
        return ~column_q(column, value_type, "equals", value, now)
    if value_type == c.DATETIME:
        if op == "within_last_days":
            return Q(**{f"{column}__gte": now - timedelta(days=value)})
        if op == "between":
            return Q(**{f"{column}__gte": value[0][0], f"{column}__lt": value[1][1]})
        return Q(**{f"{column}__lt": value[0]} if op == "before" else {f"{column}__gte": value[1]})
    if op == "within_last_days":
        today = now.date()
        return Q(**{f"{column}__range": (today - timedelta(days=value), today)})
    lookup = {
        "equals": "exact",
        "contains": "icontains",
        "starts_with": "istartswith",
        "in": "in",
        "gt": "gt",
        "gte": "gte",
        "lt": "lt",
        "lte": "lte",
        "before": "lt",
        "after": "gt",
        "between": "range",
    }[op]
    return Q(**{f"{column}__{lookup}": value})


def json_q(column: str, key: str, value_type: str, op: str, value, now: datetime) -> Q:
    """A condition on one key of a JSON column (custom attributes, event properties)."""
    text = KeyTextTransform(key, column)
    present = Q(IsNull(text, False))
    if op in ("is_set", "is_not_set"):
        q = present & ~Q(Exact(text, "")) if value_type in (c.TEXT, c.DATE) else present
        return q if op == "is_set" else ~q
    if op == "not_equals":
        return ~json_q(column, key, value_type, "equals", value, now)
    if value_type == c.BOOLEAN:  # the key's text is 'true' / 'false' on both databases
        return present & Q(Exact(text, "true" if value else "false"))
    if value_type == c.LIST:
        # The list's JSON text holds the item in quotes; SQLite keeps the \u escapes Django
        # stored, PostgreSQL's jsonb prints characters as they are.
        item = json.dumps(value, ensure_ascii=connection.vendor == "sqlite")
        return present & Q(IContains(text, item))
    lhs, value = text, value
    if value_type == c.NUMBER:
        lhs = Cast(text, FloatField())
        value = tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
    elif value_type == c.DATE:
        if op == "within_last_days":
            today = now.date()
            op, value = "between", (today - timedelta(days=value), today)
        value = (
            tuple(v.isoformat() for v in value) if isinstance(value, tuple) else (value.isoformat())
        )
    if op == "between":
        return present & Q(GreaterThanOrEqual(lhs, value[0])) & Q(LessThanOrEqual(lhs, value[1]))
    lookup = {
        "equals": Exact,
        "contains": IContains,
        "starts_with": IStartsWith,
        "in": In,
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "lte": LessThanOrEqual,
        "before": LessThan,
        "after": GreaterThan,
    }[op]
    return present & Q(lookup(lhs, list(value) if op == "in" else value))


# Behaviour --------------------------------------------------------------------------------------


def event_rows(node: c.EventCondition, ctx: Context) -> QuerySet:
    """Return the events a condition counts (all people, or ``ctx.person_ids``)."""
    if ctx.person_ids is None:
        rows = (
            event_source()
            .events()
            .filter(workspace_id=ctx.workspace_id, definition_id=node.definition_pk)
        )
    else:
        # A person's events are in the person's workspace: without the workspace test the
        # (person, definition, time) index answers a few people's counts on its own.
        rows = event_source().events().filter(definition_id=node.definition_pk)
    start, end = node.window.bounds(ctx.now)
    if start is not None:
        rows = rows.filter(occurred_at__gte=start)
    if end is not None:
        rows = rows.filter(occurred_at__lt=end)
    for item in node.filters:
        rows = rows.filter(
            json_q("properties", item.key, item.value_type, item.operator, item.value, ctx.now)
        )
    return rows


def uses_aggregates(node: c.EventCondition) -> bool:
    """All-time counts without property filters are read from the aggregates table."""
    return not node.filters and node.window == c.Window()


def event_q(node: c.EventCondition, ctx: Context) -> Q:
    """People whose count of matching events satisfies the comparison."""
    op, n = node.count_operator, node.count
    if uses_aggregates(node):
        rows = (
            event_source()
            .aggregates()
            .filter(workspace_id=ctx.workspace_id, definition_id=node.definition_pk)
        )
        counted, field = rows, "count"
    else:
        rows = event_rows(node, ctx)
        # COUNT(*), not COUNT(id): the events' (workspace, definition, time) index carries
        # the person, so the count is answered from the index alone.
        counted, field = rows.values("person_id").annotate(n=Count("*")), "n"
    if (op, n) in ((">=", 1), (">", 0)):
        return Q(Exists(rows.filter(person_id=OuterRef("pk"))))
    if ctx.person_ids is not None:
        counted = counted.filter(ids_in("person_id", ctx.person_ids))
    if c.count_holds(op, 0, n):
        if op not in BREAKS:  # ">= 0": every count holds, nobody breaks it
            return Q(pk__isnull=False)
        broken = counted.filter(**{f"{field}__{LOOKUPS[BREAKS[op]]}": n})
        return ~Q(pk__in=broken.values("person_id"))
    return Q(pk__in=counted.filter(**{f"{field}__{LOOKUPS[op]}": n}).values("person_id"))


def aggregate_q(node: c.AggregateCondition, ctx: Context) -> Q:
    """A condition on the person × definition aggregate (no row: never happened)."""
    rows = (
        event_source()
        .aggregates()
        .filter(workspace_id=ctx.workspace_id, definition_id=node.definition_pk)
    )
    if node.field == "count":
        as_event = c.EventCondition(
            path=node.path,
            definition_pk=node.definition_pk,
            definition_code=node.definition_code,
            occurred=True,
            count_operator=node.operator,
            count=node.value,
            window=c.Window(),
            filters=(),
        )
        return event_q(as_event, ctx)
    field, op, value = node.field, node.operator, node.value
    if op == "older_than_days":
        condition = {f"{field}__lt": ctx.now - timedelta(days=value)}
    elif op == "newer_than_days":
        condition = {f"{field}__gte": ctx.now - timedelta(days=value)}
    else:
        condition = {f"{field}__lt": value[0]} if op == "before" else {f"{field}__gte": value[1]}
    return Q(Exists(rows.filter(person_id=OuterRef("pk"), **condition)))


def segment_q(node: c.SegmentCondition, ctx: Context) -> Q:
    """Members of another segment: its rules now (dynamic), its list (static)."""
    if node.inner is not None:
        return compile_node(node.inner, ctx)
    return Q(
        Exists(
            SegmentMembership.objects.filter(
                segment_id=node.segment_id, person_id=OuterRef("pk"), exited_at__isnull=True
            )
        )
    )
