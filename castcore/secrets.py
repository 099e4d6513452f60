"""Secrets at rest and in output: one place for encryption, masking and redaction.

- `encrypt`/`decrypt` use MultiFernet over settings.FERNET_KEYS: the first key
  encrypts, every key decrypts, so keys rotate without downtime.
- `mask` is the only way a secret is shown: `••••` and the last 4 characters.
- Every secret that is decrypted or accepted is remembered (in this process)
  and scrubbed from any log line, whatever logger or library wrote it: every
  log record this process makes is a `RedactingLogRecord`
  (`install_log_redaction`, run when the castcore package is imported).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import OrderedDict
from functools import cache
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

_Found = TypeVar("_Found")

MASK = "••••"
# Below this length the last four characters would give away too much.
MIN_LENGTH_TO_SHOW_TAIL = 8
# Values shorter than this are too common ("test", "1234") to scrub from logs.
MIN_LENGTH_TO_REDACT = 6
SECRET_FIELD_NAMES = frozenset(
    {
        "password",
        "secret",
        "token",
        "stream_key",
        "key",
        "api_key",
        "access_key",
        "secret_key",
        "client_secret",
        "refresh",
        "access",
        "otp_secret",
        "credentials",
    }
)


def mask(value: str | None) -> str:
    """Return the masked form of a secret: `••••1234`, or `` for no value."""
    if not value:
        return ""
    if len(value) < MIN_LENGTH_TO_SHOW_TAIL:
        return MASK
    return MASK + value[-4:]


def is_secret_name(field_name: str) -> bool:
    lowered = field_name.lower()
    return lowered in SECRET_FIELD_NAMES or any(
        lowered.endswith("_" + name) for name in SECRET_FIELD_NAMES
    )


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def encrypt(value: str) -> str:
    remember(value)
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        value = fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted: was CASTCORE_FERNET_KEYS changed "
            "without keeping the old key?"
        ) from exc
    remember(value)
    return value


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the newest key."""
    return fernet().rotate(token.encode()).decode()


class _KnownSecrets:
    """A bounded, thread-safe set of secret values seen by this process."""

    def __init__(self, limit: int = 10_000) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit
        # Longest first, so a secret that contains another is masked whole. Sorted
        # once per change, not per log line: every record of the process is redacted.
        self._longest_first: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH_TO_REDACT:
            return
        with self._lock:
            if value in self._values:
                self._values.move_to_end(value)
                return
            self._values[value] = None
            # Copied, not changed in place: redact() may be reading the current one.
            longest_first = list(self._longest_first)
            bisect.insort(longest_first, value, key=_longest_first_key)
            while len(self._values) > self._limit:
                evicted, _ = self._values.popitem(last=False)
                longest_first.remove(evicted)
            self._longest_first = tuple(longest_first)

    def redact(self, text: str) -> str:
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, mask(value))
        return text


def _longest_first_key(value: str) -> int:
    return -len(value)


known_secrets = _KnownSecrets()


def remember(value: str) -> None:
    """Register a secret value so log output never shows it in clear."""
    if value:
        known_secrets.add(value)


def remember_matched(value: str, found: _Found) -> _Found:
    """`found`, after registering `value` for redaction if it matched (`found` not None).

    For a credential a client presents: registered before the lookup, every made-up
    `cci_…` or password sent by anyone would take a place in the bounded registry, and
    enough of them push real secrets out. A wrong value is no one's secret; it stays out
    of the logs as every credential does: no log line carries request headers, and the
    access log masks credential query parameters (castcore.serve).
    """
    if found is not None and found is not False:
        remember(value)
    return found


def redact(text: str) -> str:
    return known_secrets.redact(text)


class RedactingLogRecord(logging.LogRecord):
    """A log record whose message, traceback and stack text never hold a known secret.

    Redaction lives in the record, not in a filter on a handler: Celery's worker
    and beat replace the root logger's handlers at start-up (and so did any
    library calling basicConfig or dictConfig), which dropped a filter with them;
    botocore's debug lines then printed an S3 key id in a worker's log. Every
    formatter reads the message through getMessage() and stores the traceback it
    formats in exc_text, so whatever handlers are configured, they only see
    redacted text. The message is redacted when it is formatted, so a record no
    handler emits costs nothing.
    """

    def getMessage(self) -> str:
        message = super().getMessage()
        # Every handler's formatter asks again: redact a given message once.
        done = self.__dict__.get("_redacted")
        if done is None or done[0] != message:
            done = self.__dict__["_redacted"] = (message, redact(message))
        return str(done[1])

    # Formatter.format() writes the formatted traceback here; LogRecord.__init__ the
    # stack. Both go through these setters, so neither is ever stored in clear.
    @property
    def exc_text(self) -> str | None:
        return self.__dict__.get("_exc_text")

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["_exc_text"] = redact(value) if value else value

    @property
    def stack_info(self) -> str | None:
        return self.__dict__.get("_stack_info")

    @stack_info.setter
    def stack_info(self, value: str | None) -> None:
        self.__dict__["_stack_info"] = redact(value) if value else value


def install_log_redaction() -> None:
    """Make every log record of this process a RedactingLogRecord.

    The record factory is process-wide and outlives any logging configuration
    (dictConfig, basicConfig, Celery's root logger hijack), unlike handlers and
    their filters. Idempotent.
    """
    # What Python writes to stderr itself goes through logging too, so through the
    # records: warnings, and the traceback of an exception that ends a thread (a
    # thread's locals are not printed, but its message may hold a URL with a key).
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception
    current = logging.getLogRecordFactory()
    if current is logging.LogRecord:
        logging.setLogRecordFactory(RedactingLogRecord)
    elif current is not RedactingLogRecord:
        # Someone installed a factory of their own: keep it, and redact its records.
        logging.setLogRecordFactory(_redacting_factory(current))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # what the default hook ignores too
    name = args.thread.name if args.thread is not None else "?"
    error = args.exc_value if args.exc_value is not None else args.exc_type()
    logging.getLogger("castcore.threads").error("Exception in thread %s", name, exc_info=error)


def _redacting_factory(inner: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        RedactSecretsFilter().filter(record)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    return factory if not getattr(inner, "redacting", False) else inner


class RedactSecretsFilter(logging.Filter):
    """Logging filter that replaces every known secret with its mask.

    For records that are not RedactingLogRecords (made by a factory someone else
    installed); the LOGGING setting keeps it on the console handler as well.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record, RedactingLogRecord):
            return True  # redacts itself
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text is formatted later by the handler; redact it now.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class EncryptedTextField(models.TextField):
    """A text column stored Fernet-encrypted; the model attribute holds plain text."""

    description = "Text encrypted at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
