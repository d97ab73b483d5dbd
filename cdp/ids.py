"""Ids written as text (URLs, form fields, compatibility payloads).

``str.isdigit`` accepts characters ``int`` refuses (``"¹"``, ``"²"``) and says nothing of size,
so text is read as an id only when it is ASCII digits within PostgreSQL's ``bigint``.
"""

MAX_ID = 2**63 - 1


def ascii_digits(value: str) -> bool:
    """True when ``value`` is one or more ASCII digits."""
    return value.isascii() and value.isdigit()


def text_id(value) -> int | None:
    """The id ``value`` spells (ASCII digits, at most ``MAX_ID``), else None."""
    if not isinstance(value, str) or not ascii_digits(value):
        return None
    number = int(value)
    return number if number <= MAX_ID else None
