"""Access logs keep the path and drop the query string: an admin search for a national number,
a worklist filter by patient, would otherwise be written to every log collector."""

from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")
REDACTED = "?[query redacted]"


def redact(text: str) -> str:
    return _QUERY.sub(REDACTED, text)


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
