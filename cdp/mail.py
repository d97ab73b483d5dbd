"""Mail written to the local folder (``CDP_MAIL_DIR``) by Django's file-based email backend, the
embedded default's mail: read back for the admin's "Sent mail" page, newest first.

``FolderEmailBackend`` (Django's file-based backend, the default without ``EMAIL_HOST``) writes
one file per connection, ``<YYYYmmdd-HHMMSS-microseconds>-<n>.log``, so names sort by time,
holding one message or more, each followed by a line of 79 dashes. A message is named
``<file stem>.<index>``.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend
from django.utils.module_loading import import_string

SEPARATOR = b"\n" + b"-" * 79 + b"\n"
_FILE_NAME = re.compile(r"^[\w.-]+\.log$")
_MESSAGE_ID = re.compile(r"^(?P<stem>[\w-]+)\.(?P<index>\d{1,6})$")


@dataclass(frozen=True)
class SentMail:
    id: str
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    body: str
    raw: str


class FolderEmailBackend(FileEmailBackend):
    """Django's file-based backend, naming each file by its time to the microsecond (Django's
    own names stop at the second), so the folder lists in the order mail was sent."""

    def _get_filename(self):
        if self._fname is None:
            self._fname = str(
                Path(self.file_path) / f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}-{abs(id(self))}.log"
            )
        return self._fname


def mail_to_files() -> bool:
    """Whether mail goes to the local folder (rather than to an SMTP server)."""
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return False
    return isinstance(backend, type) and issubclass(backend, FileEmailBackend)


def mail_dir() -> Path:
    return Path(settings.EMAIL_FILE_PATH)


def _parse(message_id: str, data: bytes) -> SentMail:
    message = email.message_from_bytes(data, policy=email.policy.default)
    try:
        sent_at = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    part = message.get_body(preferencelist=("plain", "html"))
    try:
        body = part.get_content() if part is not None else ""
    except (LookupError, KeyError):  # an unknown charset or transfer encoding
        body = part.get_payload() if part is not None else ""
    return SentMail(
        id=message_id,
        sent_at=sent_at,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        body=body,
        raw=data.decode("utf-8", "replace"),
    )


def _messages(path: Path) -> list[SentMail]:
    data = path.read_bytes()
    chunks = [chunk for chunk in (data + b"\n").split(SEPARATOR) if chunk.strip()]
    return [_parse(f"{path.stem}.{i}", chunk) for i, chunk in enumerate(chunks)]


def mail_list(*, limit: int = 200) -> tuple[list[SentMail], int]:
    """Return the newest ``limit`` messages of the folder, newest first, and how many files
    the folder holds."""
    folder = mail_dir()
    if not folder.is_dir():
        return [], 0
    files = [path for path in folder.iterdir() if _FILE_NAME.match(path.name)]
    files.sort(key=lambda path: path.name, reverse=True)  # names start with their time
    found: list[SentMail] = []
    for path in files:
        if len(found) >= limit:
            break
        found.extend(reversed(_messages(path)))
    return found[:limit], len(files)


def mail_get(message_id: str) -> SentMail | None:
    """Return the message named ``message_id``, or None (also for a name that is not one)."""
    match = _MESSAGE_ID.match(message_id)
    if not match:
        return None
    path = mail_dir() / f"{match['stem']}.log"
    if not path.is_file():
        return None
    messages = _messages(path)
    index = int(match["index"])
    return messages[index] if index < len(messages) else None
