"""The one logging set-up of every command: library code logs to the "vidinterp" loggers, this prints them.

Records go to stderr (stdout may carry video or a JSON report) as `vidinterp: message`, or
`vidinterp: warning: message` from level WARNING up.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

ROOT = "vidinterp"


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{ROOT}: " if record.levelno < logging.WARNING else f"{ROOT}: {record.levelname.lower()}: "
        return prefix + record.getMessage()


def setup_logging(level: int = logging.INFO, keep: Iterable[str] = ()) -> None:
    """Show records of `level` and above on the current stderr; the loggers named in `keep` still show INFO
    (a command's closing summary under --quiet). Safe to call again: tests run many commands in one process."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if isinstance(h.formatter, LineFormatter)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    for name in keep:
        logging.getLogger(name).setLevel(logging.INFO)
