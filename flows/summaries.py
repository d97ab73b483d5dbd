"""One-line descriptions of flow elements and triggers, for the admin's list and diagram.

``element_summary`` reads a config in its kind's format (``flows.elements``) and says what
the element does in a few words ("wait 1 d 2 h", "email: Your tickets…", "branch: 2 rules").
Drafts may hold configs that do not validate yet, so every reader here is defensive: a value
of the wrong shape is described as "check the settings" rather than breaking the page.
"""

from collections.abc import Mapping

from flows.models import FlowElement

K = FlowElement.Kind
UNITS = (("days", "d"), ("hours", "h"), ("minutes", "min"))
MAX_TEXT = 28


def shorten(text, limit: int = MAX_TEXT) -> str:
    """Return ``text`` on one line, cut at ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def duration_text(raw) -> str:
    """Return ``{"days": 1, "hours": 2}`` as "1 d 2 h"."""
    if not isinstance(raw, Mapping):
        return "?"
    parts = [f"{raw[unit]} {short}" for unit, short in UNITS if raw.get(unit)]
    return " ".join(parts) or "0 min"


def _segment(value, names: Mapping[int, str]) -> str:
    if isinstance(value, int) and value in names:
        return repr(names[value])
    return f"#{value}" if isinstance(value, int) else str(value)


def trigger_summary(config, names: Mapping[int, str] | None = None) -> str:
    """Describe who enters: "event c_x (1 condition)", "enters segment 'VIP'", "schedule…"."""
    names = names or {}
    if not isinstance(config, Mapping):
        return "check the settings"
    kind = config.get("type")
    if kind == "event":
        where = config.get("where") or []
        extra = f" ({len(where)} condition{'s' if len(where) != 1 else ''})" if where else ""
        return f"event {config.get('event')}{extra}"
    if kind == "segment_entry":
        return f"enters segment {_segment(config.get('segment'), names)}"
    if kind == "schedule":
        segment = _segment(config.get("segment"), names)
        if "every" in config:
            when = f"every {duration_text(config['every'])}"
        elif "cron" in config:
            when = f"cron {config['cron']}"
        else:
            when = f"at {str(config.get('at', '?'))[:16].replace('T', ' ')}"
        return f"{when}: segment {segment}"
    return "check the settings"


def _action_summary(config: Mapping, names: Mapping[int, str]) -> str:
    action = config.get("action")
    if action == "tag_add":
        return f"add tag {config.get('tag')}"
    if action == "tag_remove":
        return f"remove tag {config.get('tag')}"
    if action == "attribute_set":
        return f"set {config.get('attribute')} = {config.get('value')}"
    if action == "score_change":
        by = config.get("by")
        return f"score {by:+d}" if isinstance(by, int) else f"score {by}"
    if action == "webhook":
        url = str(config.get("url", ""))
        return f"webhook {url.split('://', 1)[-1].split('/', 1)[0]}"
    if action == "email":
        return f"email: {config.get('subject', '')}"
    if action == "event_record":
        return f"record {config.get('event')}"
    if action == "segment_add":
        return f"add to segment {_segment(config.get('segment'), names)}"
    return "check the settings"


def element_summary(kind: str, config, names: Mapping[int, str] | None = None) -> str:
    """Return what an element does in one short line; ``names`` maps segment ids to names."""
    names = names or {}
    if kind == K.END:
        return "the run finishes"
    if not isinstance(config, Mapping):
        return "check the settings"
    if kind == K.TRIGGER:
        return shorten(trigger_summary(config, names))
    if kind == K.WAIT:
        return f"wait {duration_text(config.get('duration'))}"
    if kind == K.WAIT_FOR_EVENT:
        occurred = [
            str(c.get("event")) for c in config.get("occurred") or [] if isinstance(c, Mapping)
        ]
        absent = [
            str(c.get("event")) for c in config.get("notOccurred") or [] if isinstance(c, Mapping)
        ]
        text = ", ".join(occurred) + (f", not {', '.join(absent)}" if absent else "")
        return shorten(f"{text} in {duration_text(config.get('within'))}")
    if kind == K.BRANCH:
        rules = config.get("rules")
        count = 0
        if isinstance(rules, Mapping):
            group = rules.get("all", rules.get("any"))
            count = len(group) if isinstance(group, list) else 1
        tests = len(config.get("trigger") or [])
        text = f"branch: {count} rule{'s' if count != 1 else ''}"
        return text + (f" + {tests} trigger test{'s' if tests != 1 else ''}" if tests else "")
    if kind == K.ACTION:
        return shorten(_action_summary(config, names))
    return "check the settings"


def segment_ids(configs) -> set[int]:
    """Return the segment ids named by element configs (to look their names up at once)."""
    return {
        c["segment"]
        for c in configs
        if isinstance(c, Mapping) and isinstance(c.get("segment"), int)
    }
