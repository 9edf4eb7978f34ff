"""The access log writes what a caller sent as text that cannot forge a line.

BentoML's access middleware (``bentoml.access``) logs the request path as decoded by the server, so
``/%0A...`` or ``/%1B[2J`` put a newline or a terminal escape into the log: a caller, even without a
key, could write a fake line (a forged 200 for someone else) or hide the real one. A filter on that
logger escapes every character that is not printable (control characters, line and paragraph
separators, bidirectional overrides) as ``\\xNN`` / ``\\uNNNN``, and backslashes as ``\\\\``, so
the escaped text is unambiguous; ordinary paths (Chinese included) are logged unchanged.
"""

from __future__ import annotations

import logging

ACCESS_LOGGERS = ("bentoml.access", "uvicorn.access")


def escape_text(text: str) -> str:
    """``text`` with every non-printable character and each backslash escaped (one line, always)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class EscapeControlCharacters(logging.Filter):
    """Escapes the message and every text argument of a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = escape_text(record.msg) if isinstance(record.msg, str) else record.msg
        if isinstance(record.args, tuple):
            record.args = tuple(escape_text(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: escape_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def escape_access_log() -> None:
    """Attach the filter to the access loggers once (the service's start-up, after BentoML set up logging)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, EscapeControlCharacters) for f in logger.filters):
            logger.addFilter(EscapeControlCharacters())
