"""JSON pieces shared by every API's bodies."""


def iso(value) -> str | None:
    """Return an aware datetime as ISO 8601 with ``Z`` for UTC; None for no time."""
    return value.isoformat().replace("+00:00", "Z") if value else None
