"""The statuses a document and a batch go through: named here and nowhere else."""

from __future__ import annotations

from typing import Literal, get_args

# How a document's processing ends: what the record step writes and the report counts.
Ended = Literal["succeeded", "failed", "skipped"]
# pending: the API presigned its upload; scheduled: it is uploaded and starts at its
# process_at; processing: a run has started; then how it ended.
DocumentStatus = Literal["pending", "scheduled", "processing", Ended]
# How soon work starts: low-priority documents wait in their own lane (docflow.admission).
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
BatchEnded = Literal["completed", "failed", "cancelled"]
# scheduled: it starts at its process_at.
BatchStatus = Literal["scheduled", "running", BatchEnded]

ENDED: tuple[Ended, ...] = get_args(Ended)
TERMINAL_STATUSES: frozenset[str] = frozenset(ENDED)
TERMINAL_BATCH_STATUSES: frozenset[str] = frozenset(get_args(BatchEnded))
