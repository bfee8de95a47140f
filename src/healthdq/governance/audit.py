"""Append-only, hash-chained audit log of every access to patient-level rows (docs/audit.md).

One JSON object per line. Each event carries `prev_hash` (the previous event's hash, or 64 zeros
for the first), `chain` and `hash`:

* `chain: "hmac-sha256"` (a key is configured): `hash` = HMAC-SHA256(key, prev_hash + canonical
  JSON of the event without `hash`). `key_id` names the key without revealing it. Without the key
  nobody can rewrite an event and recompute the chain.
* `chain: "sha256"` (no key): the same with plain SHA-256. Edits, insertions, swaps and deletions
  in the middle are caught, but whoever can write the file can recompute every hash, so a
  rewrite cannot be detected; every verification says so.

Deleting the last entries leaves a valid chain; it is detected against known heads (the head is
recorded in every run's result). A partial last line (crash, full disk) is moved aside to
`<log>.quarantine` by the next writer, which records the quarantine in the log and chains on from
the last good event.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import json
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
KEYED = "hmac-sha256"
UNKEYED = "sha256"
MIN_KEY_BYTES = 32
LOG_ENV = "HEALTHDQ_AUDIT_LOG"
KEY_ENV = "HEALTHDQ_AUDIT_KEY_FILE"
DEFAULT_LOG = Path(".healthdq/audit.jsonl")
QUARANTINE_ACTION = "audit.quarantine"
UNKEYED_WARNING = (
    "unkeyed audit chain (sha256): anyone who can write the log can rewrite it and recompute "
    f"the hashes, and that cannot be detected; set {KEY_ENV} to key it"
)
# Detail keys that may hold credentials: their values are never written.
_SECRET_MARKERS = ("key", "token", "secret", "password")
_KEY_ID_LABEL = b"healthdq audit key id"
_TAIL_BLOCK = 65536


class AuditLogError(HealthdqError):
    """The audit log is unreadable or its hash chain is broken (possible tampering)."""


class AuditKeyError(HealthdqError):
    """The audit key is missing, unreadable or too short (the message never holds the key)."""


def default_log_path() -> Path:
    """The audit log used when none is given: $HEALTHDQ_AUDIT_LOG or .healthdq/audit.jsonl."""
    return Path(os.environ.get(LOG_ENV) or DEFAULT_LOG)


def default_key_file() -> Path | None:
    """The key file named by $HEALTHDQ_AUDIT_KEY_FILE, if set."""
    value = os.environ.get(KEY_ENV)
    return Path(value) if value else None


def load_key(path: str | os.PathLike[str]) -> bytes:
    """The key in `path` (raw bytes, trailing newline ignored); at least 32 bytes."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AuditKeyError("audit key file not found", path=where) from None
    except OSError as exc:
        raise AuditKeyError(f"audit key file unreadable ({exc.strerror})", path=where) from None
    key = data.rstrip(b"\r\n")
    if len(key) < MIN_KEY_BYTES:
        # The length only: the key itself never appears in a message.
        raise AuditKeyError(
            f"audit key too short: {len(key)} bytes, need at least {MIN_KEY_BYTES}", path=where
        )
    return key


def key_file_warning(path: str | os.PathLike[str] | None) -> str | None:
    """A warning when the key file can be read by other users (anyone could then re-sign the
    chain after editing it); None when it is private or there is no key file."""
    if path is None:
        return None
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None  # load_key reports a missing or unreadable file
    if mode & 0o077:
        return (
            f"{path}: the audit key file is readable by other users "
            f"(mode {mode & 0o777:o}); make it private: chmod 600 {path}"
        )
    return None


def key_id(key: bytes) -> str:
    """A name for the key that reveals nothing of it: a truncated HMAC of a fixed label."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


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


def _event_hash(prev_hash: str, event: dict[str, Any], key: bytes | None = None) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    message = (prev_hash + _canonical(body)).encode("utf-8")
    if key is not None:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # containers may run as a uid with no passwd entry
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@contextlib.contextmanager
def _locked(handle: IO[bytes]) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _parse(line: bytes) -> dict[str, Any] | None:
    """An event from one line, or None when the line is not a JSON object with a hash."""
    event = _parse_any(line)
    return event if event is not None and isinstance(event.get("hash"), str) else None


def _parse_any(line: bytes) -> dict[str, Any] | None:
    """A JSON object from one line, or None (UnicodeDecodeError is a ValueError too)."""
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Verification:
    """What `AuditLog.inspect` found; true when the log is intact."""

    path: str
    entries: int = 0
    head: str = GENESIS_HASH
    keyed: int = 0
    unkeyed: int = 0
    key_id: str | None = None
    bad_line: int | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad_line is None

    def __bool__(self) -> bool:
        return self.ok

    def error(self) -> AuditLogError:
        return AuditLogError(str(self.reason), path=self.path, line=self.bad_line)


@dataclass
class _Tail:
    """The end of the log as a writer sees it: where good content ends and what follows."""

    good_end: int  # byte offset just after the last readable event's newline
    head: str
    last: dict[str, Any] | None
    junk: bytes  # unreadable bytes after good_end (a partial or unreadable last line)


class AuditLog:
    """An audit log file; create one per run and call `record` for each access to rows.

    With `key`, events are chained with HMAC-SHA256; without, with plain SHA-256 (see above).
    """

    def __init__(self, path: str | os.PathLike[str], key: bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
        self._key_id = key_id(key) if key is not None else None
        # Set by `record`: anything a user should hear about (a quarantined line).
        self.warnings: list[str] = []

    def __repr__(self) -> str:  # never show the key
        return f"AuditLog({str(self.path)!r}, keyed={self._key is not None})"

    @property
    def keyed(self) -> bool:
        return self._key is not None

    # -- writing --------------------------------------------------------------------------------
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
        self.warnings = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # "a+b" never truncates by itself; the lock covers read-tail + append so the chain
            # stays linear whatever other processes write.
            with open(self.path, "a+b") as handle, _locked(handle):
                tail = self._tail(handle)
                self._check_writable(tail)
                prev_hash = tail.head
                if tail.junk:
                    prev_hash = self._quarantine(handle, tail)
                event = self._event(action, dataset, rows, columns, unmasked, detail, prev_hash)
                self._append(handle, event)
        except OSError as exc:  # full disk, read-only file system, permissions
            raise AuditLogError(
                f"cannot write the audit log ({exc.strerror or exc}); the access was not recorded",
                path=str(self.path),
            ) from None
        return event

    def _event(
        self,
        action: str,
        dataset: str,
        rows: int,
        columns: list[str],
        unmasked: bool,
        detail: dict[str, Any] | None,
        prev_hash: str,
    ) -> dict[str, Any]:
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
            "chain": KEYED if self._key is not None else UNKEYED,
            "prev_hash": prev_hash,
        }
        if self._key_id is not None:
            event["key_id"] = self._key_id
        # Round-trip through JSON so the hash covers exactly what verify() will read back.
        event = json.loads(_canonical(event))
        event["hash"] = _event_hash(prev_hash, event, self._key)
        return event

    @staticmethod
    def _append(handle: IO[bytes], event: dict[str, Any]) -> None:
        line = (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        # One write of the whole line (looped only if the OS takes part of it): a crash leaves at
        # worst a partial last line.
        view = memoryview(line)
        while view:
            view = view[os.write(handle.fileno(), view) :]
        os.fsync(handle.fileno())

    def preflight(self) -> None:
        """Raise now what `record` would raise for this log and key (before a long run)."""
        if self.path.is_file():
            with open(self.path, "rb") as handle:
                self._check_writable(self._tail(handle))

    def _check_writable(self, tail: _Tail) -> None:
        """Refuse to weaken a keyed chain: no unkeyed event, no other key, after a keyed one."""
        last = tail.last
        if last is None or last.get("chain") != KEYED:
            return
        where = str(self.path)
        if self._key_id is None:
            raise AuditKeyError(
                f"this audit log is keyed (key id {last.get('key_id')}): give --audit-key-file "
                f"or set {KEY_ENV}",
                path=where,
            )
        if last.get("key_id") != self._key_id:
            raise AuditKeyError(
                f"this audit log is keyed with another key (key id {last.get('key_id')}, "
                f"yours {self._key_id}); start a new log to change keys",
                path=where,
            )

    def _quarantine(self, handle: IO[bytes], tail: _Tail) -> str:
        """Move the unreadable tail to <log>.quarantine, record that, return the new head."""
        qpath = self.path.with_name(self.path.name + ".quarantine")
        line = self._count_lines(handle, tail.good_end) + 1
        digest = hashlib.sha256(tail.junk).hexdigest()
        kept = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "log": str(self.path),
            "line": line,
            "offset": tail.good_end,
            "bytes": len(tail.junk),
            "sha256": digest,
            "content": tail.junk.decode("utf-8", errors="replace"),
        }
        # Kept aside (and synced) before it leaves the log, so a crash here loses nothing.
        with open(qpath, "ab") as qfile:
            qfile.write((json.dumps(kept, ensure_ascii=False) + "\n").encode("utf-8"))
            qfile.flush()
            os.fsync(qfile.fileno())
        os.ftruncate(handle.fileno(), tail.good_end)
        event = self._event(
            QUARANTINE_ACTION,
            self.path.name,
            0,
            [],
            False,
            {
                "reason": "partial or unreadable last line (a crash or a full disk while writing)",
                "line": line,
                "offset": tail.good_end,
                "bytes": len(tail.junk),
                "sha256": digest,
                "quarantine": str(qpath),
            },
            tail.head,
        )
        self._append(handle, event)
        self.warnings.append(
            f"audit log {self.path}:{line}: partial or unreadable last line ({len(tail.junk)} "
            f"bytes) moved to {qpath}; a new segment was started and the quarantine recorded"
        )
        return str(event["hash"])

    def _tail(self, handle: IO[bytes]) -> _Tail:
        """Read back from the end: the last readable event, and any junk after it.

        Junk is what follows the last newline (a partial write) plus, if unreadable, the last
        complete line (a partial write that a later append completed). Anything unreadable
        before that is not a crash's doing: it is refused, for `audit verify` to examine.
        """
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return _Tail(0, GENESIS_HASH, None, b"")
        start, chunk = size, b""
        # Enough bytes for the last three line breaks (or the whole file).
        while start > 0 and chunk.count(b"\n") < 3:
            start = max(0, start - _TAIL_BLOCK)
            handle.seek(start)
            chunk = handle.read(size - start)
        body_end = chunk.rfind(b"\n") + 1  # 0 when there is no newline at all
        lines = chunk[:body_end].split(b"\n")[:-1]
        if start > 0:
            lines = lines[1:]  # the first piece may be cut
        end = start + body_end
        unreadable = 0
        while lines:
            line = lines.pop()
            if not line.strip():  # blank lines are skipped
                end -= len(line) + 1
                continue
            event = _parse(line)
            if event is not None:
                return _Tail(end, str(event["hash"]), event, self._read(handle, end, size))
            if unreadable:
                raise AuditLogError(
                    "audit log has unreadable lines before its last: not a crash; "
                    "run `healthdq audit verify` and restore the log",
                    path=str(self.path),
                )
            unreadable += 1
            end -= len(line) + 1
        if start > 0:  # only blank lines in the block read: not something healthdq writes
            raise AuditLogError("audit log tail is unreadable", path=str(self.path))
        return _Tail(0, GENESIS_HASH, None, self._read(handle, 0, size))

    @staticmethod
    def _read(handle: IO[bytes], begin: int, end: int) -> bytes:
        handle.seek(begin)
        return handle.read(end - begin)

    @staticmethod
    def _count_lines(handle: IO[bytes], end: int) -> int:
        handle.seek(0)
        count, left = 0, end
        while left > 0:
            block = handle.read(min(_TAIL_BLOCK * 16, left))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
        return count

    # -- reading --------------------------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        """All readable events in order (without checking the chain; use `verify` for that)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            return [e for line in handle if line.strip() and (e := _parse(line)) is not None]

    def head(self) -> str:
        """Hash of the latest readable event (zeros if empty); runs record it as `audit.head`."""
        if not self.path.exists():
            return GENESIS_HASH
        with open(self.path, "rb") as handle:
            return self._tail(handle).head

    def inspect(self, heads: Iterable[str] = (), since: str | None = None) -> Verification:
        """Check the chain (and that each known head is still in it); never raises for a bad log.

        `since` starts at the first event of that run (its `prev_hash` is trusted). A keyed event
        without a key to check it raises AuditKeyError: it can be neither passed nor failed.
        """
        found = Verification(path=str(self.path), key_id=self._key_id)
        if self._key is None:
            found.warnings.append(UNKEYED_WARNING)
        known = [h.strip().lower() for h in heads if h.strip()]
        if not self.path.exists():
            if known:
                found.bad_line = 1
                found.reason = "the log does not exist but known heads were given"
            return found
        hashes: set[str] = set()
        prev: str | None = GENESIS_HASH if since is None else None
        number = first = 0
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):  # noqa: B007 - used after the loop
                if not raw.endswith(b"\n"):
                    return self._bad(
                        found,
                        number,
                        "partial last line (a crash or a full disk while writing); the next "
                        "run moves it to the quarantine file",
                    )
                if not raw.strip():
                    continue
                event = _parse(raw)
                if event is None:
                    return self._bad(found, number, "entry is not valid JSON with a hash")
                hashes.add(str(event["hash"]))
                if prev is None:  # --since: skip to the run
                    if (event.get("detail") or {}).get("run_id") != since:
                        continue
                    prev = str(event.get("prev_hash"))
                first = first or number
                problem = self._check_event(found, event, prev, number)
                if problem:
                    return self._bad(found, number, problem)
                prev = found.head = str(event["hash"])
                found.entries += 1
        if since is not None and prev is None:
            return self._bad(found, number + 1, f"run {since} is not in the log")
        for head in known:
            if head not in hashes:
                return self._bad(
                    found,
                    number + 1,
                    f"known head {head[:16]}… is not in the log: entries after line {number} "
                    "were deleted (or this is another log)",
                )
        if self._key is not None and found.unkeyed and not found.keyed:
            # An unkeyed prefix is anchored by the MAC of the first keyed entry after it; with no
            # keyed entry at all, the whole log may have been rewritten without the key.
            found.entries = 0
            return self._bad(
                found,
                first or 1,
                "a key was given but no entry is keyed: the log was written without the key, "
                "or rewritten",
            )
        return found

    def _check_event(
        self, found: Verification, event: dict[str, Any], prev: str, number: int
    ) -> str | None:
        if event.get("prev_hash") != prev:
            return (
                "chain broken: prev_hash does not match the previous entry "
                "(a line was removed, inserted or reordered)"
            )
        chain = event.get("chain", UNKEYED)  # entries from before the field existed
        if chain == KEYED:
            if self._key is None:
                raise AuditKeyError(
                    f"entry at line {number} is keyed (key id {event.get('key_id')}): give "
                    f"--key-file or set {KEY_ENV} to verify this log",
                    path=found.path,
                )
            if event.get("key_id") != self._key_id:
                return (
                    f"entry was written with another key (key id {event.get('key_id')}, "
                    f"yours {self._key_id})"
                )
            if not hmac.compare_digest(_event_hash(prev, event, self._key), str(event["hash"])):
                return "entry was modified: MAC mismatch"
            found.keyed += 1
        elif chain == UNKEYED:
            if found.keyed:
                return "unkeyed entry after keyed entries (written without the key, or rewritten)"
            if _event_hash(prev, event) != event["hash"]:
                return "entry was modified: hash mismatch"
            found.unkeyed += 1
        else:
            return f"unknown chain {str(chain)[:32]!r}"
        if event.get("action") == QUARANTINE_ACTION:
            detail = event.get("detail") or {}
            kept = "" if self._quarantined(detail.get("sha256")) else " (no longer in that file)"
            found.warnings.append(
                f"line {number}: {detail.get('bytes')} unreadable bytes were quarantined at "
                f"{event.get('ts')} to {detail.get('quarantine')}{kept}"
            )
        return None

    def _quarantined(self, digest: object) -> bool:
        """Whether the quarantine file still holds the bytes with this SHA-256."""
        qpath = self.path.with_name(self.path.name + ".quarantine")
        try:
            with open(qpath, "rb") as handle:
                return any(
                    (kept := _parse_any(line)) is not None and kept.get("sha256") == digest
                    for line in handle
                )
        except OSError:
            return False

    @staticmethod
    def _bad(found: Verification, line: int, reason: str) -> Verification:
        found.bad_line, found.reason = line, reason
        return found

    def verify(self, heads: Iterable[str] = (), since: str | None = None) -> Verification:
        """Check the chain; the (true) Verification if intact, else AuditLogError naming the line.

        Read `.warnings`: an unkeyed log always says that rewrites cannot be detected.
        """
        found = self.inspect(heads, since)
        if not found.ok:
            raise found.error()
        return found


def open_log(
    path: str | os.PathLike[str] | None = None, key_file: str | os.PathLike[str] | None = None
) -> AuditLog:
    """The audit log at `path` (default: `default_log_path()`), keyed from `key_file` (default:
    $HEALTHDQ_AUDIT_KEY_FILE) when one is given."""
    key_path = key_file if key_file is not None else default_key_file()
    key = load_key(key_path) if key_path is not None else None
    return AuditLog(path if path is not None else default_log_path(), key)


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes; of a folder (Spark's output), over its files' relative names
    and contents in name order (checksum and marker files of Spark's writer left out)."""
    target = Path(path)
    digest = hashlib.sha256()
    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
        )
        for file in files:
            digest.update(str(file.relative_to(target)).encode("utf-8") + b"\0")
            digest.update(bytes.fromhex(content_hash(file)))
        return digest.hexdigest()
    with open(target, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
