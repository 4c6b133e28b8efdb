"""Keep secrets out of logs and error text.

Two layers, because neither alone is enough:

* every secret the process holds (access and refresh tokens, the client secret, passwords) is
  *registered* the moment it is created or read, and any occurrence of it is masked wherever it
  shows up (a log message, a formatted argument, a traceback);
* patterns catch credentials we never saw registered: ``Authorization: Bearer …`` / ``Basic …``
  header values and ``access_token=…``-style form or JSON fields (e.g. a body echoed by a server).

``RedactingFilter`` applies both to log records; attach it to *handlers* (``install()``), because a
filter on a logger does not see records that propagate from child loggers.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from pydantic import SecretStr

MASK = "***"
# Shorter values would mask innocent text (an "a" secret would blank every "a" in a log line).
_MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()

# `Authorization: Bearer abc`, `'Authorization': 'Basic abc'`, `Bearer abc` alone.
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/=]{6,}")
# botocore's DEBUG log of a signed S3 request: `AWS4-HMAC-SHA256 Credential=AKIA…/date/region/s3/…,
# SignedHeaders=…, Signature=…`. The key id names the AWS identity; the signature is replayable.
_AWS_SIGV4 = re.compile(r"\b(Credential=|Signature=)([A-Za-z0-9/_\-+=]+)")
# access_token=..., "refresh_token": "...", client_secret=..., code_verifier: ...
_FIELD = re.compile(
    r"""(?ix)
    (["']?\b(?:access_token|refresh_token|client_secret|code_verifier|password)\b["']?
     \s*[:=]\s*["']?)
    ([^"'\s&,}]+)
    """
)
# An authorization code in a callback URL (`?code=AQB…&state=…`); only the `=` form, so that
# "status code: 502" stays readable.
_CODE_PARAM = re.compile(r"(\bcode=)([^&\s\"']+)")


def register_secret(value: str | SecretStr | None) -> None:
    """Remember a secret so that ``redact`` masks it from now on. ``None`` and short values are ignored."""
    if value is None:
        return
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if len(raw) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(raw)


def register_secrets(values: Iterable[str | SecretStr | None]) -> None:
    for value in values:
        register_secret(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-looking field masked."""
    # Patterns first: a registered secret that happens to equal a pattern's anchor word (a password
    # "Bearer", say) must not break the pattern that masks the token after it.
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _CODE_PARAM.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _AWS_SIGV4.sub(lambda m: f"{m.group(1)}{MASK}", text)
    with _lock:
        # Longest first, so a secret that contains another is masked whole.
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and exception text with secrets masked. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not take logging down
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked; handlers reuse exc_text instead of formatting again.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach one ``RedactingFilter`` to every handler of ``logger`` (default: the root logger).

    Call it after the handlers are configured (the CLI does, after ``logging.basicConfig``).
    Idempotent: a handler that already has a RedactingFilter is left alone.
    """
    target = logger if logger is not None else logging.getLogger()
    flt = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt
