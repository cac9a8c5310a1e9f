"""Recent completion times per kind of job, kept in the jobs table for the poll policy.

One item per kind (`videohook.completion_times.job_kind`: provider, model, resolution, duration
bucket), in the jobs table next to the jobs:

    {"id": "history#<kind>", "kind": <kind>, "seq": <samples ever recorded>,
     "slots": {"<seq % HISTORY_SIZE>": {"s": <seconds>, "at": <epoch seconds>}, ...},
     "expires_at": <epoch seconds>}

Job ids start with `vid_`, so the ids never collide; the item has no `tenant_id`, so the
`by_tenant` index never lists it; `expires_at` is the table's TTL attribute, so a kind
nobody asks for any more disappears HISTORY_TTL after its last sample. No extra table,
index or permission: the poll step already reads and writes the jobs table.

Recording a sample is two small writes: `ADD seq :1` (which returns the new value, so
concurrent writers get distinct slots) and `SET slots.#n = :sample`. Reading is one
eventually consistent GetItem per kind, cached per process for CACHE_SECONDS: a sample a
minute late changes nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from videohook import completion_times

logger = logging.getLogger(__name__)

HISTORY_PREFIX = "history#"
HISTORY_SIZE = 32
HISTORY_TTL_SECONDS = 30 * 24 * 3600
# Older samples describe a provider that may have changed since.
MAX_SAMPLE_AGE_SECONDS = 7 * 24 * 3600
CACHE_SECONDS = 60.0


def history_id(kind: str) -> str:
    return HISTORY_PREFIX + kind


class JobHistory:
    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        """`table` is a boto3 DynamoDB Table resource (the jobs table)."""
        self._table = table
        self._clock = clock
        self._cache: dict[str, tuple[float, completion_times.HistoryStats | None]] = {}
        self._lock = threading.Lock()

    def samples(self, kind: str) -> list[float]:
        """The kind's recent completion times (seconds), oldest first."""
        item = self._table.get_item(Key={"id": history_id(kind)}).get("Item") or {}
        slots = item.get("slots") or {}
        now = self._clock()
        found: list[tuple[float, float]] = []
        for slot in slots.values():
            try:
                seconds, at = float(slot["s"]), float(slot["at"])
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(seconds) and seconds > 0 and now - at <= MAX_SAMPLE_AGE_SECONDS:
                found.append((at, seconds))
        return [seconds for _, seconds in sorted(found)]

    def stats(self, kind: str) -> completion_times.HistoryStats | None:
        """`completion_times.history_stats` of the kind's samples, cached; None (no history) on any error."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(kind)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            stats = completion_times.history_stats(self.samples(kind))
        except Exception:  # noqa: BLE001 - a missing history only costs a few polls
            logger.warning("could not read the completion-time history", exc_info=True)
            stats = None
        with self._lock:
            self._cache[kind] = (now, stats)
        return stats

    def record(self, kind: str, seconds: float) -> None:
        """Add one completion time to the kind's ring of HISTORY_SIZE samples."""
        if not (math.isfinite(seconds) and seconds > 0):
            return
        now = self._clock()
        answer = self._table.update_item(
            Key={"id": history_id(kind)},
            UpdateExpression="ADD #seq :one SET #kind = :kind, #slots = if_not_exists(#slots, :empty), "
            "#expires = :expires",
            # Names for every attribute: some words are reserved in DynamoDB expressions.
            ExpressionAttributeNames={
                "#seq": "seq",
                "#kind": "kind",
                "#slots": "slots",
                "#expires": "expires_at",
            },
            ExpressionAttributeValues={
                ":one": 1,
                ":kind": kind,
                ":empty": {},
                ":expires": int(now + HISTORY_TTL_SECONDS),
            },
            ReturnValues="UPDATED_NEW",
        )
        slot = str(int(answer["Attributes"]["seq"]) % HISTORY_SIZE)
        self._table.update_item(
            Key={"id": history_id(kind)},
            UpdateExpression="SET #slots.#slot = :sample",
            ExpressionAttributeNames={"#slots": "slots", "#slot": slot},
            ExpressionAttributeValues={
                ":sample": {"s": Decimal(str(round(seconds, 3))), "at": Decimal(str(round(now, 3)))}
            },
        )
