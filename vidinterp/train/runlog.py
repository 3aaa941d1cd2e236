"""The run folder's log.jsonl: one JSON object per line (start, steps, validation, checkpoints, end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidinterp.io.atomic import write_atomically


class RunLog:
    """Append-only JSONL metrics log (rank 0 only: with `path` None it is a no-op).

    `resume_step`: drop the records of steps after it first. A run that died without a final checkpoint
    (killed, machine restart) logged steps that the resumed run repeats; keeping both would count them twice.
    """

    def __init__(self, path: Path | None, resume_step: int | None = None):
        if path is not None and resume_step is not None and path.is_file():
            kept = [json.dumps(record) + "\n" for record in read_records(path) if record.get("step", 0) <= resume_step]
            write_atomically(path, lambda tmp: tmp.write_text("".join(kept), encoding="utf-8"))
        self.file = open(path, "a", encoding="utf-8") if path is not None else None

    def write(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def read_records(path: Path) -> list[dict[str, Any]]:
    """The log's records, without a line torn by a kill (the only one that can fail to parse)."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
