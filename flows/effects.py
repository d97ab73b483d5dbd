"""What action elements do, through the services that own each change.

Database actions (tags, attributes, score, recording an event, adding to a static segment)
run inside the step's transaction (``effect_apply``). Webhooks and emails leave the system
(``effect_send``): the engine calls them outside any transaction and records the result, see
``flows.engine``. Templates (email subject and body, webhook payload texts) are rendered with
``person`` (attributes and custom attributes), ``event`` (the trigger event's data),
``flow`` (name and run), PPMessage's ``track_event_seq|uuid|count|data`` and the person's
aggregates as ``event_count_N``, ``event_first_time_N``, ``event_last_time_N``,
``event_last_data_N`` (SPEC §8), by the same restricted engine that checked them on save.
"""

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.template import Context as TemplateContext

from cdp.outbound import OutboundRefused, outbound_request
from events.ingestion import events_ingest
from events.inputs import EventInput, FlowCause
from events.selectors import person_aggregate_values
from flows.elements.actions import template_engine
from flows.models import FlowRun
from people.inputs import PersonRef
from people.models import Identifier, Person
from people.segments.models import Segment
from people.segments.services import segment_members_add
from people.services import (
    STANDARD_ATTRIBUTES,
    people_score_change,
    people_tags_add,
    people_tags_remove,
    person_update,
)

logger = logging.getLogger(__name__)
EXTERNAL = ("webhook", "email")
WEBHOOK_TIMEOUT = (5, 10)  # seconds: connect, read
MAX_ATTEMPTS = 5
RESPONSE_KEPT = 200  # characters of a webhook's answer kept in the step log


@dataclass(frozen=True)
class SendResult:
    ok: bool
    final: bool  # no more attempts
    detail: dict = field(default_factory=dict)
    retry_in: timedelta = timedelta(0)


def _person_json(person: Person) -> dict:
    return {
        "id": person.pk,
        "externalId": person.external_id,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "country": person.country,
        "city": person.city,
        "language": person.language,
        "score": person.score,
        **person.attributes,
    }


TRACK_EVENT_NAMES = ("track_event_seq", "track_event_uuid", "track_event_count", "track_event_data")


def _template_context(run: FlowRun, context: dict) -> dict:
    """What a template may name: ``person``, ``event`` (the trigger event's data), ``flow``,
    PPMessage's trigger variables (``track_event_seq``…) and the person's aggregates under
    PPMessage's names (``event_count_N``, ``event_first_time_N``, ``event_last_time_N``,
    ``event_last_data_N``; SPEC §8)."""
    return {
        **person_aggregate_values(workspace_id=run.flow.workspace_id, person_id=run.person_id),
        **{name: context[name] for name in TRACK_EVENT_NAMES if name in context},
        "person": _person_json(run.person),
        "event": context.get("track_event_data") or {},
        "flow": {"id": run.flow_id, "name": run.flow.name, "runId": run.pk},
    }


def _render(text: str, values: dict) -> str:
    return template_engine().from_string(text).render(TemplateContext(values, autoescape=False))


def _rendered(value, values: dict):
    if isinstance(value, str):
        return _render(value, values)
    if isinstance(value, dict):
        return {k: _rendered(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, values) for v in value]
    return value


@dataclass
class FlowEvent:
    """An event a run records (``flowEntered``, ``flowExited``, a custom event)."""

    run: FlowRun
    code: str
    properties: dict
    element: object = None  # the element that caused it
    log_key: tuple | None = None  # the step log that names the recorded event's id
    at: datetime | None = None  # when it happened; default the batch's time


def backoff(attempt: int) -> timedelta:
    """Wait before webhook attempt ``attempt`` + 1: 10 s, 20 s, 40 s, 80 s…"""
    return timedelta(seconds=10 * 2 ** max(attempt - 1, 0))


def flow_events_record(items: list[FlowEvent], *, now: datetime) -> list[int | None]:
    """Record events on the runs' people, marked as caused by their flow (one ingest per
    workspace); return each one's id (None when it was refused, which is logged)."""
    ids: list[int | None] = [None] * len(items)
    by_workspace: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_workspace.setdefault(item.run.workspace_id, []).append(i)
    for indexes in by_workspace.values():
        inputs = []
        for i in indexes:
            run, element = items[i].run, items[i].element
            cause = FlowCause(
                flow_id=run.flow_id,
                flow_name=run.flow.name,
                flow_started_at=run.flow.activated_at or run.entered_at,
                element_id=element.pk if element is not None else (run.current_element_id or 0),
                element_name=(element.label or element.key) if element is not None else "",
            )
            inputs.append(
                EventInput(
                    definition_id=items[i].code,
                    person=PersonRef(id=run.person_id),
                    occurred_at=items[i].at or now,
                    properties=items[i].properties,
                    flow_cause=cause,
                )
            )
        result = events_ingest(
            workspace=items[indexes[0]].run.flow.workspace, events=inputs, origin="flow"
        )
        for i, item in zip(indexes, result.items, strict=True):
            if item.errors:
                logger.warning(
                    "flow %s could not record %s: %s",
                    items[i].run.flow_id,
                    items[i].code,
                    item.errors,
                )
            else:
                ids[i] = item.event_id
    return ids


def effect_apply_many(*, runs: list[FlowRun], element, batch) -> dict[int, dict]:
    """Do a database action for the people of ``runs`` (all at one action element), the
    same change for all in one statement where it can; return what each step log keeps."""
    config, action = element.config, element.config["action"]
    workspace_id = runs[0].workspace_id
    person_ids = sorted({run.person_id for run in runs})
    done = {run.pk: {"action": action} for run in runs}
    if action == "tag_add":
        people_tags_add(workspace_id=workspace_id, person_ids=person_ids, names=[config["tag"]])
    elif action == "tag_remove":
        people_tags_remove(workspace_id=workspace_id, person_ids=person_ids, names=[config["tag"]])
    elif action == "score_change":
        people_score_change(workspace_id=workspace_id, person_ids=person_ids, by=config["by"])
    elif action == "attribute_set":
        name = config["attribute"]
        for run in runs:
            if name in STANDARD_ATTRIBUTES:
                person_update(person=run.person, standard={name: config["value"]})
            else:
                person_update(person=run.person, attributes={name: config["value"]})
    elif action == "event_record":
        for run in runs:
            properties = _rendered(
                config.get("properties") or {}, _template_context(run, run.context)
            )
            batch.event(
                run,
                config["event"],
                properties,
                element=element,
                log_key=(run.pk, run.step_no, element.pk),
            )
            done[run.pk] = {}
    elif action == "segment_add":
        segment = Segment.objects.filter(pk=config["segment"], workspace_id=workspace_id).first()
        if segment is None:
            return {run.pk: {"error": "the segment no longer exists"} for run in runs}
        segment_members_add(segment=segment, person_ids=person_ids)
    return done


def _webhook(run: FlowRun, config: dict, context: dict, attempt: int) -> SendResult:
    values = _template_context(run, context)
    payload = {
        "flow": values["flow"],
        "person": values["person"],
        "event": values["event"],
        "data": _rendered(config.get("payload") or {}, values),
    }
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    delivery = f"{run.pk}-{run.step_no}"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CDP-flows/1",
        "X-CDP-Delivery": delivery,
        "X-CDP-Attempt": str(attempt),
    }
    if config.get("secret"):
        digest = hmac.new(config["secret"].encode(), body, hashlib.sha256).hexdigest()
        headers["X-CDP-Signature"] = f"sha256={digest}"
    try:
        response = outbound_request(
            "POST",
            config["url"],
            data=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT,
            max_body=RESPONSE_KEPT * 4,
        )
    except OutboundRefused as exc:  # DNS moved to an internal address: no retry would help
        logger.warning("flow %s webhook refused: %s", run.flow_id, exc)
        return SendResult(
            ok=False,
            final=True,
            detail={"attempts": attempt, "error": f"refused: {exc}"[:500], "delivery": delivery},
        )
    except requests.RequestException as exc:
        detail = {
            "attempts": attempt,
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "delivery": delivery,
        }
    else:
        detail = {
            "attempts": attempt,
            "status": response.status,
            "response": response.text[:RESPONSE_KEPT],
            "delivery": delivery,
        }
        if 200 <= response.status < 300:
            return SendResult(ok=True, final=True, detail=detail)
        if 300 <= response.status < 400:  # redirects are not followed, and would be again
            detail["error"] = "the receiver answered with a redirect, which is not followed"
            return SendResult(ok=False, final=True, detail=detail)
    final = attempt >= MAX_ATTEMPTS
    return SendResult(ok=False, final=final, detail=detail, retry_in=backoff(attempt))


def _email(run: FlowRun, config: dict, context: dict, attempt: int) -> SendResult:
    to = config["to"]
    if to == "person":
        to = (
            Identifier.objects.filter(person_id=run.person_id, type="email")
            .order_by("-created_at")
            .values_list("value", flat=True)
            .first()
        )
        if not to:
            return SendResult(ok=False, final=True, detail={"error": "the person has no email"})
    values = _template_context(run, context)
    try:
        send_mail(
            _render(config["subject"], values).strip(),
            _render(config["body"], values),
            settings.DEFAULT_FROM_EMAIL,
            [to],
        )
    except Exception as exc:  # SMTP and backend errors: retried with backoff
        return SendResult(
            ok=False,
            final=attempt >= MAX_ATTEMPTS,
            retry_in=backoff(attempt),
            detail={"attempts": attempt, "error": f"{type(exc).__name__}: {exc}"},
        )
    return SendResult(ok=True, final=True, detail={"attempts": attempt, "to": to})


def effect_send(
    *, run: FlowRun, config: dict, context: dict, attempt: int, now: datetime
) -> SendResult:
    """Send a webhook or an email (outside any transaction); never raises."""
    try:
        if config["action"] == "webhook":
            return _webhook(run, config, context, attempt)
        return _email(run, config, context, attempt)
    except Exception as exc:  # a template or payload that cannot be rendered
        logger.exception("flow %s step %s failed", run.flow_id, run.step_no)
        return SendResult(ok=False, final=True, detail={"error": f"{type(exc).__name__}: {exc}"})
