"""httpx logs each request's URL at INFO level, and Cloudflare URLs hold the account id.

The filter masks it in httpx's and httpcore's log records, whoever turns their logging on.
"""

from __future__ import annotations

import logging
import re

from ..core.public import publish

__all__ = ["mask_account_ids_in_http_logs"]

_ACCOUNT_IN_URL = re.compile(r"(/accounts/|gateway\.ai\.cloudflare\.com/v1/)[^/\s]+")


class _MaskAccountIds(logging.Filter):
    """Masks account ids in a log record's message, its arguments filled in first."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = _ACCOUNT_IN_URL.sub(r"\1****", str(record.msg))
        return True


_FILTER = _MaskAccountIds()


def mask_account_ids_in_http_logs() -> None:
    """Install the filter on httpx's and httpcore's loggers (once; installing again is a no-op)."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).addFilter(_FILTER)


publish(globals())
