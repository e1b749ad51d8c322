"""Signed checkpoints of the audit chain, handed outside the database.

A checkpoint is the platform's signature over (sequence number, head hash, time, key id). It is
appended to a JSON Lines file, served by the API and put in receipts; whoever keeps a copy can
later prove with ``silkgate audit verify --checkpoint FILE`` that nothing up to that entry was
removed or changed — even by someone able to rewrite the whole database.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silkgate.audit.service import AuditSigner, head
from silkgate.core.signing import canonical_json, verify
from silkgate.core.supervise import Supervised

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.audit")

CHECKPOINT_TYPE = "silkgate.audit.checkpoint.v1"
_FIELDS = ("seq", "head_hash", "at", "key_id", "signature")


class BadCheckpoint(ValueError):
    """A checkpoint that cannot be read or whose signature is not valid."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed by the platform key."""

    seq: int
    head_hash: str
    at: str
    key_id: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "at": self.at,
            "key_id": self.key_id,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    def verify(self, trusted: Mapping[str, str]) -> bool:
        """True if signed by one of ``trusted`` (key id → public key, from configuration)."""
        public = trusted.get(self.key_id)
        return public is not None and verify(public, self.signature, canonical_json(self.body()))

    @classmethod
    def from_dict(cls, data: Any, where: str = "checkpoint") -> Checkpoint:
        if not isinstance(data, dict):
            raise BadCheckpoint(f"{where}: expected a JSON object")
        if data.get("type", CHECKPOINT_TYPE) != CHECKPOINT_TYPE:
            raise BadCheckpoint(f"{where}: type is {data.get('type')!r}, not {CHECKPOINT_TYPE}")
        for name in _FIELDS:
            if name not in data:
                raise BadCheckpoint(f"{where}: field {name} is missing")
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise BadCheckpoint(f"{where}: seq must be a non-negative integer")
        for name in _FIELDS[1:]:
            if not isinstance(data[name], str):
                raise BadCheckpoint(f"{where}: {name} must be a string")
        return cls(seq, data["head_hash"], data["at"], data["key_id"], data["signature"])


def sign(signer: AuditSigner, seq: int, head_hash: str, at: datetime | None = None) -> Checkpoint:
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
    unsigned = Checkpoint(seq, head_hash, when, signer.key_id, "")
    return Checkpoint(
        seq, head_hash, when, signer.key_id, signer.sign(canonical_json(unsigned.body()))
    )


def make(platform: Platform) -> Checkpoint:
    """Sign the current head of the chain."""
    with platform.db.snapshot() as s:
        seq, head_hash = head(s)
    return sign(platform.signer, seq, head_hash)


def latest_covering(platform: Platform, seq: int = 0) -> Checkpoint:
    """The newest checkpoint in the file if it covers entry ``seq``; else one signed now."""
    path = platform.settings.checkpoint_path
    cp = latest(path)
    if cp is None or cp.seq < seq:
        cp = make(platform)
        append(path, cp)
    return cp


def append(path: Path, cp: Checkpoint) -> bool:
    """Append to the JSON Lines file unless its last line is the same head; False if skipped.

    An exclusive lock keeps lines whole when several API processes write the same file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        if last is not None:
            try:
                prev = json.loads(last)
            except ValueError:
                prev = None
            if isinstance(prev, dict) and (prev.get("seq"), prev.get("head_hash")) == (
                cp.seq,
                cp.head_hash,
            ):
                return False
        os.write(fd, json.dumps(cp.as_dict(), sort_keys=True).encode() + b"\n")
        os.fsync(fd)
        return True
    finally:
        os.close(fd)  # releases the lock


def _last_line(fd: int) -> str | None:
    size = os.lseek(fd, 0, os.SEEK_END)
    chunk = b""
    pos = size
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        chunk = os.pread(fd, step, pos) + chunk
        lines = chunk.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or pos == 0:
            text = lines[-1].decode("utf-8", "replace").strip()
            return text or None
    return None


def latest(path: Path) -> Checkpoint | None:
    """The last checkpoint in the file (None if there is none)."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        last = _last_line(fd)
    finally:
        os.close(fd)
    if last is None:
        return None
    try:
        return Checkpoint.from_dict(json.loads(last), f"{path} last line")
    except ValueError as exc:
        raise BadCheckpoint(f"{path} last line: {exc}") from None


_CACHED: dict[Path, tuple[float, tuple[int, int, int], Checkpoint]] = {}
CACHE_SECONDS = 1.0


def latest_cached(path: Path) -> Checkpoint | None:
    """``latest`` for receipts, which put the newest checkpoint in every write's answer: the
    file is looked at (a ``stat``) at most once a second and read again only if it changed."""
    now = time.monotonic()
    hit = _CACHED.get(path)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[2]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    if hit is not None and hit[1] == stamp:
        _CACHED[path] = (now, stamp, hit[2])
        return hit[2]
    cp = latest(path)
    if cp is not None:
        if len(_CACHED) > 64:
            _CACHED.clear()
        _CACHED[path] = (now, stamp, cp)
    return cp


def read(path: Path) -> list[tuple[str, Checkpoint]]:
    """Every checkpoint in a file — one JSON object, or JSON Lines — with where it was read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadCheckpoint(f"{path}: cannot read: {exc}") from None
    out = []
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" not in stripped:
        lines: Iterable[tuple[int, str]] = [(1, stripped)]
    else:
        lines = enumerate(text.splitlines(), start=1)
    for n, line in lines:
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise BadCheckpoint(f"{where}: not JSON ({exc})") from None
        out.append((where, Checkpoint.from_dict(data, where)))
    if not out:
        raise BadCheckpoint(f"{path}: no checkpoint in the file")
    return out


def expected_heads(
    checkpoints: Iterable[tuple[str, Checkpoint]], trusted: Mapping[str, str]
) -> dict[int, str]:
    """seq → head hash of checkpoints whose signature verifies with a pinned key.

    Raises BadCheckpoint for one that does not, or for two signed checkpoints that disagree.
    """
    heads: dict[int, str] = {}
    for where, cp in checkpoints:
        if not cp.verify(trusted):
            raise BadCheckpoint(
                f"{where}: signature does not verify with a pinned platform key ({cp.key_id})"
            )
        if cp.seq == 0:
            continue
        if heads.setdefault(cp.seq, cp.head_hash) != cp.head_hash:
            raise BadCheckpoint(f"{where}: two signed checkpoints disagree about entry {cp.seq}")
    return heads


class CheckpointWorker:
    """A thread of the API process signing a checkpoint every ``audit_checkpoint_interval``.

    A failing round is logged and counted and the next one runs; should the loop itself fail,
    ``core.supervise`` logs it, shows it in readiness and starts it again.
    """

    def __init__(self, platform: Platform, interval: float | None = None) -> None:
        self.platform = platform
        self.interval = interval or platform.settings.audit_checkpoint_interval
        self.path = platform.settings.checkpoint_path
        self._supervised = Supervised("silkgate-audit-checkpoint", self._loop, pause=5.0)
        self.last: Checkpoint | None = None
        self.last_error: str | None = None
        self.failures = 0

    def start(self) -> None:
        self._supervised.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._supervised.stop(timeout)

    @property
    def running(self) -> bool:
        return self._supervised.alive

    def run_once(self) -> Checkpoint:
        cp = make(self.platform)
        append(self.path, cp)
        self.last, self.last_error = cp, None
        return cp

    def _loop(self) -> None:
        stopping = self._supervised.stopping
        while not stopping.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep signing later rounds; readiness shows the error
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("audit checkpoint failed")
            stopping.wait(self.interval)

    def status(self) -> dict[str, Any]:
        """For readiness: the thread's state (revived first if it is gone) and the newest
        checkpoint it signed."""
        self._supervised.ensure_running()
        return {
            **self._supervised.status(),
            "interval_seconds": self.interval,
            "file": str(self.path),
            "last_seq": self.last.seq if self.last else None,
            "last_at": self.last.at if self.last else None,
            "failures": self.failures,
            "last_round_error": self.last_error,
        }
