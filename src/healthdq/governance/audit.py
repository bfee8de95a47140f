"""Append-only, hash-chained audit log of every access to patient-level rows.

One JSON object per line. Each event carries `prev_hash` (the previous event's hash, or 64 zeros
for the first) and `hash` = sha256(prev_hash + canonical JSON of the event without `hash`).
Editing, inserting, reordering or deleting a line breaks the chain and `verify()` says where.
Truncating the tail cannot be detected from the file alone: keep `head()` somewhere else
(a ticket, the run's JSON output) if that matters.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from healthdq.errors import HealthdqError

try:  # POSIX: serialise concurrent writers so two runs cannot fork the chain.
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl; single-writer use is assumed
    fcntl = None  # type: ignore[assignment]

GENESIS_HASH = "0" * 64
REDACTED = "[redacted]"
# Detail keys that may hold credentials: their values are never written.
_SECRET_MARKERS = ("key", "token", "secret", "password")


class AuditLogError(HealthdqError):
    """The audit log is unreadable or its hash chain is broken (possible tampering)."""


def redact(detail: Any) -> Any:
    """Replace the value of any key that looks like a credential with '[redacted]', at any depth."""
    if isinstance(detail, dict):
        return {
            str(key): (
                REDACTED
                if any(marker in str(key).lower() for marker in _SECRET_MARKERS)
                else redact(value)
            )
            for key, value in detail.items()
        }
    if isinstance(detail, list | tuple):
        return [redact(item) for item in detail]
    return detail


def _canonical(event: dict[str, Any]) -> str:
    # Sorted keys, no whitespace, str() for anything exotic: the same event always hashes alike.
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256((prev_hash + _canonical(body)).encode("utf-8")).hexdigest()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # containers may run as a uid with no passwd entry
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@contextlib.contextmanager
def _locked(handle: IO[str]) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class AuditLog:
    """An audit log file; create one per run and call `record` for each access to rows."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(
        self,
        action: str,
        dataset: str,
        rows: int,
        columns: list[str],
        unmasked: bool,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one event (who, where, when, what) and return it with its hash."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "a+" never truncates; the lock covers read-last-hash + append so the chain stays linear.
        with open(self.path, "a+", encoding="utf-8") as handle, _locked(handle):
            prev_hash = self._last_hash(handle)
            event: dict[str, Any] = {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "user": _user(),
                "host": socket.gethostname(),
                "action": action,
                "dataset": dataset,
                "rows": int(rows),
                "columns": [str(c) for c in columns],
                "unmasked": bool(unmasked),
                "detail": redact(detail) if detail else {},
                "prev_hash": prev_hash,
            }
            # Round-trip through JSON so the hash covers exactly what verify() will read back.
            event = json.loads(_canonical(event))
            event["hash"] = _event_hash(prev_hash, event)
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return event

    @staticmethod
    def _last_hash(handle: IO[str]) -> str:
        handle.seek(0)
        last = ""
        for line in handle:
            if line.strip():
                last = line
        if not last:
            return GENESIS_HASH
        try:
            return str(json.loads(last)["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditLogError("last audit event is unreadable", path=str(handle.name)) from exc

    def events(self) -> list[dict[str, Any]]:
        """All events in order (without checking the chain; use `verify` for that)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def head(self) -> str:
        """Hash of the latest event (zeros if empty); keep it elsewhere to detect truncation."""
        if not self.path.exists():
            return GENESIS_HASH
        with open(self.path, encoding="utf-8") as handle:
            return self._last_hash(handle)

    def verify(self) -> bool:
        """Check the whole chain; True if intact, else raise AuditLogError naming the bad line."""
        if not self.path.exists():
            return True
        prev_hash = GENESIS_HASH
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = str(self.path)
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    raise AuditLogError(
                        "audit event is not valid JSON", path=where, line=number
                    ) from exc
                if not isinstance(event, dict) or "hash" not in event:
                    raise AuditLogError("audit event has no hash", path=where, line=number)
                if event.get("prev_hash") != prev_hash:
                    raise AuditLogError(
                        "audit chain broken: prev_hash does not match the previous event "
                        "(a line was removed, inserted or reordered)",
                        path=where,
                        line=number,
                    )
                if _event_hash(prev_hash, event) != event["hash"]:
                    raise AuditLogError(
                        "audit event was modified: hash mismatch", path=where, line=number
                    )
                prev_hash = event["hash"]
        return True
