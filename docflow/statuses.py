"""The statuses a document and a batch go through: named here and nowhere else."""

from __future__ import annotations

from typing import Literal, get_args

# How a document's processing ends: what the record step writes and the report counts.
Ended = Literal["succeeded", "failed", "skipped"]
# pending: the API presigned its upload; processing: a run has started; then how it ended.
DocumentStatus = Literal["pending", "processing", Ended]
BatchEnded = Literal["completed", "failed", "cancelled"]
BatchStatus = Literal["running", BatchEnded]

ENDED: tuple[Ended, ...] = get_args(Ended)
TERMINAL_STATUSES: frozenset[str] = frozenset(ENDED)
TERMINAL_BATCH_STATUSES: frozenset[str] = frozenset(get_args(BatchEnded))
