"""Logging set-up for the command line: stderr, ``--debug``, and ``--log-file`` as text or JSON.

Records of the ``scraper.events`` logger (one per stored page, retry and failure) carry their
fields in ``record.fields``; the JSON format writes them as top-level keys, one object a line.
"""

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from scraper.errors import UsageError


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, event and its fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if event is not None:
            entry["event"] = event
            entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(*, debug: bool, log_file: Path | None, log_format: LogFormat) -> None:
    """stderr shows warnings (everything with ``debug``); the log file gets info and up."""
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    package = logging.getLogger("scraper")
    package.setLevel(logging.DEBUG if debug else logging.INFO if log_file else logging.WARNING)
    if debug:
        root.setLevel(logging.DEBUG)
        logging.getLogger("asyncio").setLevel(logging.DEBUG)
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write log file {log_file}: {exc.strerror}") from None
        handler.setLevel(logging.DEBUG if debug else logging.INFO)
        handler.setFormatter(
            JsonFormatter()
            if log_format is LogFormat.JSON
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        package.addHandler(handler)
