"""The action element: what a flow does to or for the person.                  -> next

    {"action": "tag_add", "tag": "vip"}            {"action": "tag_remove", "tag": "vip"}
    {"action": "attribute_set", "attribute": "city" | "<custom key>", "value": "Berlin"}
    {"action": "score_change", "by": 10}                                   # or negative
    {"action": "webhook", "url": "https://…", "secret": "…", "payload": {"plan": "{{ … }}"}}
    {"action": "email", "to": "person" | "sales@example.com", "subject": "…", "body": "…"}
    {"action": "event_record", "event": "c_offer_sent", "properties": {"offer": "mortgage"}}
    {"action": "segment_add", "segment": 12}                              # a static segment

``attribute_set`` takes a standard attribute (firstName, lastName, gender, birthDate, country,
city, address, language, timeZone) or a custom attribute's key, with a value of its type (null
clears it). A webhook is a JSON POST signed with HMAC-SHA256 of the body when ``secret`` is
set; its URL must reach a public address (``cdp.outbound``: loopback, private, link-local and
the like are refused, and so is a host that does not resolve). The secret is stored but never
shown again (the API answers ``"hasSecret": true``), and a webhook element saved again without
``secret`` keeps the one it had (``"secret": null`` removes it). Email subject and body, and
the text values of a webhook payload, are Django templates rendered with ``person``, ``event``
(the trigger event's data) and ``flow``; they must compile, and ``include``, ``extends``,
``load`` and ``debug`` are not available. An email to "person" goes to the person's email
identifier.
"""

import functools
import json
import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.template import Engine, TemplateSyntaxError

from cdp.errors import ErrorCode, FieldError, ServiceError
from cdp.outbound import OutboundRefused, url_check
from events.models import EventDefinition
from flows.elements.common import (
    Context,
    definition_of,
    fail,
    only_keys,
    remap,
    require_object,
    text,
    whole_number,
)
from flows.elements.triggers import segment_of
from flows.errors import FlowErrorCode
from people.models import AttributeDefinition, Person
from people.services import STANDARD_ATTRIBUTES, attributes_validate, date_or_none

ACTIONS = (
    "tag_add",
    "tag_remove",
    "attribute_set",
    "score_change",
    "webhook",
    "email",
    "event_record",
    "segment_add",
)
MAX_SCORE_CHANGE = 1_000_000
MAX_URL = 2000
MAX_SECRET = 256
MAX_PAYLOAD_BYTES = 16_384
MAX_SUBJECT = 255
MAX_BODY = 100_000
# Tags that read other templates, load tag libraries or dump the whole context.
FORBIDDEN_TAG = re.compile(r"{%\s*(include|extends|load|debug)\b")


@functools.cache
def template_engine() -> Engine:
    """The engine flow templates are compiled (and later rendered) with: built-in tags and
    filters only, no template loaders."""
    return Engine(loaders=[], libraries={})


def template_check(value, path: str, *, what: str, max_length: int) -> None:
    text(value, path, max_length=max_length, what=what)
    forbidden = FORBIDDEN_TAG.search(value)
    if forbidden:
        raise fail(
            path,
            f"the {{% {forbidden.group(1)} %}} tag is not available in flow templates",
            FlowErrorCode.INVALID_TEMPLATE,
        )
    try:
        template_engine().from_string(value)
    except TemplateSyntaxError as exc:
        reason = str(exc).splitlines()[0].strip() if str(exc).strip() else "a tag is broken"
        raise fail(
            path, f"the template does not compile: {reason}", FlowErrorCode.INVALID_TEMPLATE
        ) from exc
    except Exception as exc:  # a template that breaks the parser otherwise is still input
        raise fail(
            path,
            "the template cannot be read; check its {{ }} and {% %} tags",
            FlowErrorCode.INVALID_TEMPLATE,
        ) from exc


def _payload_templates(value, path: str) -> None:
    if isinstance(value, str):
        if "{" in value:
            template_check(value, path, what="a text", max_length=MAX_PAYLOAD_BYTES)
    elif isinstance(value, dict):
        for key, item in value.items():
            _payload_templates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _payload_templates(item, f"{path}[{i}]")


def _attribute_set(config: dict, path: str, ctx: Context) -> None:
    only_keys(config, path, ("action", "attribute", "value"))
    name, value = config.get("attribute"), config.get("value")
    if "value" not in config:
        raise fail(
            f"{path}.value", "give the value to set (null clears the attribute)", ErrorCode.REQUIRED
        )
    if name in STANDARD_ATTRIBUTES:
        field = Person._meta.get_field(STANDARD_ATTRIBUTES[name])
        if value is None:
            return
        if name == "birthDate":
            ok, hint = date_or_none(value) is not None, "a date like 1990-01-31"
        elif name == "gender":
            ok, hint = value in Person.Gender.values, "female, male or other"
        else:
            ok = isinstance(value, str) and len(value) <= field.max_length
            hint = f"a text of at most {field.max_length} characters"
        if not ok:
            raise fail(f"{path}.value", f"{name} takes {hint}", ErrorCode.INVALID_TYPE)
        return
    known = (
        isinstance(name, str)
        and AttributeDefinition.objects.filter(workspace=ctx.workspace, key=name).exists()
    )
    if not known:
        raise fail(
            f"{path}.attribute",
            f"there is no attribute {name!r}: use a standard one ("
            + ", ".join(STANDARD_ATTRIBUTES)
            + ") or the key of a custom attribute",
            ErrorCode.UNKNOWN_PROPERTY,
        )
    try:
        attributes_validate(workspace=ctx.workspace, attributes={name: value}, field="value")
    except ServiceError as exc:
        raise ServiceError(
            [FieldError(f"{path}.value", e.code, f"{name} {e.message}") for e in exc.errors]
        ) from exc


def _webhook(config: dict, path: str) -> None:
    only_keys(config, path, ("action", "url", "secret", "payload"))
    url = text(config.get("url"), f"{path}.url", max_length=MAX_URL, what="the URL to call")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise fail(f"{path}.url", "give an http:// or https:// URL") from exc
    try:
        url_check(url)
    except OutboundRefused as exc:
        raise fail(f"{path}.url", str(exc), FlowErrorCode.URL_REFUSED) from exc
    secret = config.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) > MAX_SECRET):
        raise fail(f"{path}.secret", f"the secret is a text of at most {MAX_SECRET} characters")
    payload = config.get("payload")
    if payload is not None:
        require_object(payload, f"{path}.payload", '{"person": "{{ person.id }}"}')
        if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:
            raise fail(f"{path}.payload", f"the payload is at most {MAX_PAYLOAD_BYTES} bytes")
        _payload_templates(payload, f"{path}.payload")


def _email(config: dict, path: str) -> None:
    only_keys(config, path, ("action", "to", "subject", "body"))
    to = config.get("to")
    if to != "person":
        try:
            validate_email(to if isinstance(to, str) else "")
        except ValidationError as exc:
            raise fail(
                f"{path}.to", '"person" (their email identifier) or an email address'
            ) from exc
    template_check(
        config.get("subject"), f"{path}.subject", what="a subject", max_length=MAX_SUBJECT
    )
    if "\n" in config["subject"] or "\r" in config["subject"]:
        raise fail(f"{path}.subject", "a subject is one line")
    template_check(config.get("body"), f"{path}.body", what="a body", max_length=MAX_BODY)


def _event_record(config: dict, path: str, ctx: Context) -> set[str]:
    only_keys(config, path, ("action", "event", "properties"))
    definition = definition_of(config.get("event"), f"{path}.event", ctx)
    if definition.kind != EventDefinition.Kind.CUSTOM:
        raise fail(
            f"{path}.event",
            f"{definition.definition_id} is a built-in event; a flow records custom events (c_…)",
            ErrorCode.CUSTOM_PREFIX,
        )
    properties = config.get("properties", {})
    errors = ctx.catalogue.validators[definition.definition_id].validate(properties)
    if errors:
        raise remap(ServiceError(errors), "properties", f"{path}.properties")
    return {f"event:{definition.pk}"}


def action_validate(config: dict, path: str, ctx: Context) -> set[str]:
    action = config.get("action")
    if action not in ACTIONS:
        raise fail(f"{path}.action", "action is one of " + ", ".join(ACTIONS))
    if action in ("tag_add", "tag_remove"):
        only_keys(config, path, ("action", "tag"))
        text(config.get("tag"), f"{path}.tag", max_length=64, what="the tag's name")
    elif action == "attribute_set":
        _attribute_set(config, path, ctx)
    elif action == "score_change":
        only_keys(config, path, ("action", "by"))
        by = whole_number(
            config.get("by"),
            f"{path}.by",
            low=-MAX_SCORE_CHANGE,
            high=MAX_SCORE_CHANGE,
            what="the points to add (negative removes)",
        )
        if by == 0:
            raise fail(f"{path}.by", "give the points to add (negative removes), not 0")
    elif action == "webhook":
        _webhook(config, path)
    elif action == "email":
        _email(config, path)
    elif action == "event_record":
        return _event_record(config, path, ctx)
    elif action == "segment_add":
        only_keys(config, path, ("action", "segment"))
        segment = segment_of(config.get("segment"), f"{path}.segment", ctx, static_only=True)
        return {f"segment:{segment.pk}"}
    return set()


def webhook_prepare(config, previous: dict | None):
    """Return a webhook config as it is stored: ``hasSecret`` (from a read) dropped, and the
    previous secret kept when the config does not say ``secret`` (the API never shows it)."""
    if not isinstance(config, dict) or config.get("action") != "webhook":
        return config
    config = {k: v for k, v in config.items() if k != "hasSecret"}
    carried = isinstance(previous, dict) and previous.get("action") == "webhook"
    if "secret" not in config and carried and previous.get("secret"):
        config["secret"] = previous["secret"]
    if not config.get("secret"):
        config.pop("secret", None)
    return config


def config_public(kind: str, config: dict) -> dict:
    """Return a config as the API shows it: a webhook's secret replaced by ``hasSecret``."""
    if kind != "action" or not isinstance(config, dict) or config.get("action") != "webhook":
        return config
    public = {k: v for k, v in config.items() if k != "secret"}
    public["hasSecret"] = bool(config.get("secret"))
    return public
