"""SQLite's reader processes for the lake export, and how several begin on one snapshot.

The ADBC driver links its own copy of SQLite, and two copies in one process share POSIX locks
without knowing it (SQLite's "multiple copies" hazard: the driver's reads went stale after
another connection of this process wrote), so each reader is a child process running
``main``; this module imports only what the child needs, so a reader starts quickly.
"""

from __future__ import annotations

import json
import select
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.ipc

#: Seconds a reader process may take to start (import, connect) before it is given up.
STARTUP_S = 60.0


def pin(path: str, readers: int, lock_wait: float) -> list[SqliteReader]:
    """``readers`` SQLite reader processes whose read transactions begin on one state of the
    database: the write lock is held while they begin (a few milliseconds; writers wait as for
    any other writer, and never longer than ``lock_wait``: a reader that has not begun by then
    ends the run), so no commit falls between them. Where the lock cannot be had within
    ``lock_wait`` seconds (a long write), one reader alone."""
    started: list[SqliteReader] = []
    try:
        for _ in range(readers):
            started.append(SqliteReader(path))
        for reader in started:
            reader.ready(STARTUP_S)  # started up: only beginning the transaction is left
        if readers > 1:
            lock = sqlite3.connect(path, timeout=lock_wait, isolation_level=None)
            try:
                lock.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname != "SQLITE_BUSY":
                    raise
                for extra in started[1:]:  # still busy: the export reads one at a time
                    extra.close()
                del started[1:]
            else:
                try:
                    for reader in started:
                        reader.begin(lock_wait)
                finally:
                    lock.execute("ROLLBACK")
            finally:
                lock.close()
        started[0].begin(lock_wait)  # a no-op where it has begun already
    except BaseException:
        for reader in started:
            reader.close()
        raise
    return started


class SqliteReader:
    """A child process (``main``) holding one SQLite read transaction: it takes
    one SQL statement per line on stdin and answers ``A`` + an Arrow IPC stream, or ``E`` +
    length + message."""

    def __init__(self, path: str) -> None:
        code = "from silkgate.analytics.sqlite_reader import main; main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.send, self.recv = self.proc.stdin, self.proc.stdout
        self.begun = False

    def ready(self, within: float) -> None:
        """Wait until the process has connected (and not yet read anything)."""
        self._wait(within, "start")
        try:
            if self.recv.read(1) == b"R":
                return
        except OSError:
            pass
        raise SqliteReadError(self._died())

    def begin(self, within: float) -> None:
        """Begin the read transaction: every later read sees the database as it is now."""
        if not self.begun:
            for _ in self._answer("SELECT count(*) FROM sqlite_schema", 1, within):
                pass
            self.begun = True

    def batches(self, sql: str, batch: int) -> Iterator[pa.RecordBatch]:
        return self._answer(sql, batch, None)

    def _wait(self, seconds: float, doing: str) -> None:
        """Wait for the process's next answer (it writes nothing unasked, so nothing is
        buffered on our side) no longer than ``seconds``."""
        if not select.select([self.recv], [], [], seconds)[0]:
            self.proc.kill()
            raise SqliteReadError(f"the SQLite reader process did not {doing} in {seconds:g} s")

    def _answer(self, sql: str, batch: int, within: float | None) -> Iterator[pa.RecordBatch]:
        try:
            self.send.write(json.dumps({"sql": sql, "batch": batch}).encode() + b"\n")
            self.send.flush()
            if within is not None:
                self._wait(within, "answer")
            status = self.recv.read(1)
            if status == b"E":
                size = int.from_bytes(self.recv.read(4), "big")
                raise SqliteReadError(self.recv.read(size).decode())
            if status != b"A":
                raise SqliteReadError(self._died())
            yield from pa.ipc.open_stream(self.recv)
        except (OSError, pa.ArrowException) as exc:
            raise SqliteReadError(self._died()) from exc

    def _died(self) -> str:
        self.proc.kill()
        err = self.proc.communicate(timeout=10)[1].decode(errors="replace").strip()
        return f"the SQLite reader process ended (exit {self.proc.returncode}): {err[-2000:]}"

    def close(self) -> None:
        # closing our end of its stdout first: a child still writing a stream (a run that
        # failed mid-dataset) gets EPIPE instead of blocking; at stdin's end it rolls back
        self.recv.close()
        self.send.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


class SqliteReadError(RuntimeError):
    """SQLite refused a query of the export, or the reader process died."""


def main() -> None:
    """The SQLite reader process: one deferred read transaction (the snapshot is taken by the
    first read) for every statement of the run; ends with the parent's stdin."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    conn = adbc_sqlite.connect(sys.argv[1], autocommit=True)
    out = sys.stdout.buffer
    cur = conn.cursor()
    cur.execute("BEGIN")  # deferred: the parent's first statement begins the read
    cur.close()
    out.write(b"R")
    out.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        cur = conn.cursor()
        try:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(req["batch"])})
            cur.execute(req["sql"])
            reader = cur.fetch_record_batch()
        except Exception as exc:  # the parent raises it
            msg = str(exc).encode()
            out.write(b"E" + len(msg).to_bytes(4, "big") + msg)
            out.flush()
            cur.close()
            continue
        out.write(b"A")
        with pa.ipc.new_stream(out, reader.schema) as writer:
            for b in reader:
                writer.write_batch(b)
                out.flush()
        out.flush()
        cur.close()
    conn.close()  # never committed: a rollback
