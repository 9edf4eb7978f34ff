"""Control characters in a request path cannot forge a line of the access log (in process; the
real server's log is checked in ``test_security_server.py``)."""

from __future__ import annotations

import logging

import pytest

from serving.access_log import EscapeControlCharacters, escape_text


@pytest.mark.parametrize(("raw", "logged"), [
    ("/score", "/score"),
    ("/ui/会员", "/ui/会员"),  # printable text is untouched, Chinese included
    ("/x\n127.0.0.1:1 (scheme=http,method=POST,path=/admin/reload) (status=200)",
     "/x\\x0a127.0.0.1:1 (scheme=http,method=POST,path=/admin/reload) (status=200)"),
    ("/\r\x1b[2J\x1b[1A", "/\\x0d\\x1b[2J\\x1b[1A"),
    ("/\x00\x7f\x85", "/\\x00\\x7f\\x85"),
    ("/a\u2028b\u202ec", "/a\\u2028b\\u202ec"),  # line separator, right-to-left override
    ("/already\\x0aescaped", "/already\\\\x0aescaped"),  # a literal backslash cannot pass for an escape
])
def test_escape_text(raw: str, logged: str) -> None:
    assert escape_text(raw) == logged
    assert escape_text(raw).isprintable()


def test_the_filter_escapes_every_text_argument_before_formatting(caplog: pytest.LogCaptureFixture) -> None:
    """The access middleware's own call shape: a format string and the joined request fields."""
    logger = logging.getLogger("tests.access")
    logger.addFilter(EscapeControlCharacters())
    with caplog.at_level(logging.INFO, logger="tests.access"):
        logger.info("%s (%s) (%s) %.3fms", "127.0.0.1:5", "scheme=http,method=GET,path=/a\nFORGED", "status=404", 1.5)
    assert caplog.messages == ["127.0.0.1:5 (scheme=http,method=GET,path=/a\\x0aFORGED) (status=404) 1.500ms"]
