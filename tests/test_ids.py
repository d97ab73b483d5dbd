"""Ids written as text: ASCII digits within bigint, nothing else."""

import pytest

from cdp.ids import MAX_ID, ascii_digits, text_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("42", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("¹", None),
        ("0¹", None),
        ("٣", None),
        ("", None),
        (" 1", None),
        ("-1", None),
        ("1.0", None),
        (7, None),
        (None, None),
    ],
)
def test_text_id(value, expected):
    assert text_id(value) == expected


def test_ascii_digits():
    assert ascii_digits("0123456789")
    assert not ascii_digits("12³")
    assert not ascii_digits("")
