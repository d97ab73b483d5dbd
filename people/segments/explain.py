"""Why a person is or isn't in a segment: each condition, its outcome and the figure behind it.

Outcomes come from the same compiled SQL as the refresh (every node of the tree annotated as
a boolean on the person's row, in one query), so the explanation cannot disagree with the
evaluation; the figures (counts, values, dates) are read next to it for the reader.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from people.models import Person
from people.segments import conditions as c
from people.segments.compiler import Context, compile_node, event_rows, uses_aggregates
from people.segments.models import Segment, SegmentMembership
from people.segments.rules import rules_validate
from people.segments.sources import event_source


@dataclass(frozen=True)
class Outcome:
    """One node of the tree for one person."""

    path: str
    met: bool
    figure: str
    children: tuple["Outcome", ...] = field(default=())
    # Whether this outcome pulls towards membership: ``met`` itself, except under an odd
    # number of "none of" groups, where a met condition is what keeps the person out.
    favours: bool | None = None

    def __post_init__(self):
        if self.favours is None:
            object.__setattr__(self, "favours", self.met)


@dataclass(frozen=True)
class Explanation:
    """The person against the segment: qualifies now, stored membership, per-node outcomes."""

    segment_id: int
    person_id: int
    qualifies: bool
    member: bool
    entered_at: datetime | None
    outcome: Outcome


def _nodes(node) -> list:
    if isinstance(node, c.Group):
        return [node, *(n for child in node.children for n in _nodes(child))]
    return [node]


def _shown(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, datetime) for v in value):
        return f"{value[0]:%Y-%m-%d %H:%M}"
    if isinstance(value, tuple):
        return (
            " and ".join(_shown(v) for v in value)
            if len(value) == 2
            else ", ".join(_shown(v) for v in value)
        )
    return str(value)


def _needs(operator: str, value) -> str:
    words = c.OPERATOR_WORDS[operator].replace(" N days", f" {value} days")
    if value is None or "days" in words:
        return f"needs: {words}"
    return f"needs: {words} {_shown(value)}"


def _filters(node: c.EventCondition) -> str:
    return "".join(
        f" with {f.key} {c.OPERATOR_WORDS[f.operator]}"
        + ("" if f.value is None else f" {_shown(f.value)}")
        for f in node.filters
    )


def _figure(node, person: Person, ctx: Context, met: dict) -> str:
    if isinstance(node, c.AttributeCondition):
        actual = (
            getattr(person, node.column) if node.column else person.attributes.get(node.custom_key)
        )
        shown = "not set" if actual in (None, "") else repr(actual)
        return f"{node.label} is {shown}; {_needs(node.operator, node.value)}"
    if isinstance(node, c.TagCondition):
        has = person.tags.filter(name=node.name).exists()
        return (
            f"{'has' if has else 'does not have'} tag {node.name!r}; needs: "
            f"{'has' if node.has else 'does not have'} it"
        )
    if isinstance(node, c.IdentifierCondition):
        n = person.identifiers.filter(type=node.identifier_type).count()
        return (
            f"{n} {node.identifier_type} identifier(s); needs: "
            f"{'at least one' if node.has else 'none'}"
        )
    if isinstance(node, c.EventCondition):
        if uses_aggregates(node):
            row = (
                event_source()
                .aggregates()
                .filter(person=person, definition_id=node.definition_pk)
                .first()
            )
            n = row.count if row else 0
        else:
            n = event_rows(node, ctx).filter(person_id=person.pk).count()
        wanted = f"{node.count_operator} {node.count}"
        return f"{n} {node.definition_code}{_filters(node)} {node.window.describe()}; needs " + (
            wanted if node.occurred else f"not {wanted}"
        )
    if isinstance(node, c.AggregateCondition):
        row = (
            event_source()
            .aggregates()
            .filter(person=person, definition_id=node.definition_pk)
            .first()
        )
        if row is None:
            return f"no {node.definition_code} ever; {_needs(node.operator, node.value)}"
        if node.field == "count":
            return f"{row.count} {node.definition_code} ever; needs {node.operator} {node.value}"
        when = getattr(row, node.field)
        days = (ctx.now - when).days
        label = "first" if node.field == "first_at" else "last"
        return (
            f"{label} {node.definition_code} on {when:%Y-%m-%d %H:%M} ({days} days ago); "
            f"{_needs(node.operator, node.value)}"
        )
    if isinstance(node, c.SegmentCondition):
        inside = (
            met.get(id(node.inner))
            if node.inner is not None
            else (
                SegmentMembership.objects.filter(
                    segment_id=node.segment_id, person=person, exited_at__isnull=True
                ).exists()
            )
        )
        return (
            f"{'in' if inside else 'not in'} segment {node.segment_name!r}; needs: "
            f"{'member' if node.member else 'not a member'}"
        )
    kids = sum(1 for child in node.children if met[id(child)])
    return f"{kids} of {len(node.children)} met; needs {node.op}"


def _outcome(node, person: Person, ctx: Context, met: dict, negated: bool = False) -> Outcome:
    """Return ``node``'s outcome; ``negated`` when an odd number of "none of" groups hold it."""
    inner = negated != (isinstance(node, c.Group) and node.op == "none")
    children = (
        tuple(_outcome(child, person, ctx, met, inner) for child in node.children)
        if (isinstance(node, c.Group))
        else ()
    )
    return Outcome(
        path=node.path,
        met=met[id(node)],
        figure=_figure(node, person, ctx, met),
        children=children,
        favours=met[id(node)] != negated,
    )


def segment_explain(
    *, segment: Segment, person: Person, now: datetime | None = None
) -> Explanation:
    """Explain ``person`` against ``segment`` as of ``now`` (default: now)."""
    now = now or timezone.now()
    current = SegmentMembership.objects.filter(
        segment=segment, person=person, exited_at__isnull=True
    ).first()
    if not segment.is_dynamic:
        outcome = Outcome(
            path="members",
            met=current is not None,
            figure="on the list" if current else "not on the list",
        )
        return Explanation(
            segment_id=segment.pk,
            person_id=person.pk,
            qualifies=current is not None,
            member=current is not None,
            entered_at=current.entered_at if current else None,
            outcome=outcome,
        )
    tree = rules_validate(
        workspace=segment.workspace, rules=segment.rules, segment_id=segment.pk
    ).tree
    ctx = Context(workspace_id=segment.workspace_id, now=now, person_ids=(person.pk,))
    nodes = _nodes(tree)
    for node in list(nodes):
        if isinstance(node, c.SegmentCondition) and node.inner is not None:
            nodes.append(node.inner)
    annotations = {
        f"n{i}": ExpressionWrapper(compile_node(node, ctx), output_field=BooleanField())
        for i, node in enumerate(nodes)
    }
    row = Person.objects.filter(pk=person.pk).annotate(**annotations).values(*annotations).get()
    met = {id(node): bool(row[f"n{i}"]) for i, node in enumerate(nodes)}
    return Explanation(
        segment_id=segment.pk,
        person_id=person.pk,
        qualifies=met[id(tree)],
        member=current is not None,
        entered_at=current.entered_at if current else None,
        outcome=_outcome(tree, person, ctx, met),
    )
