"""Keep API keys sent in URLs out of the logs.

The DM Hub-compatible endpoints take the key as ``?access_token=<key>``, so a request line
logged as is would write a secret key to every access log. ``redact`` replaces the value;
``RedactSecretsFilter`` applies it to Django's records (``django.server`` for runserver, and
the console handler for everything else, see ``LOGGING`` in ``cdp.settings``) and
``GunicornLogger`` to gunicorn's access log (``gunicorn.conf.py`` names it).
"""

import logging
import re

from gunicorn.glogging import Logger

# The parameter as Django reads it: its name may be percent-encoded (``access%5Ftoken``).
_TOKEN = re.compile(r"(access(?:_|%5f)token=)[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Return ``text`` with the value of every ``access_token=`` parameter replaced."""
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrite a record's message with ``access_token`` values redacted (it keeps the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with ``access_token`` values redacted from every access-log field."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
