"""Ed25519 signature checks of audit entries, in this process or spread over worker processes.

Signature checks are most of the cost of verifying a long chain; they are independent of each
other, so chunks of them can run on other cores while the chain's links and hashes are checked
in order. This module imports only ``cryptography`` so worker processes start quickly.
"""

from __future__ import annotations

import base64
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHUNK = 4096

Signed = tuple[int, str, str, str]  # seq, key id, base64 signature, entry hash


def first_invalid(trusted: Mapping[str, str], chunk: list[Signed]) -> int | None:
    """The first seq in ``chunk`` whose signature does not verify with its (trusted) key."""
    keys = {k: Ed25519PublicKey.from_public_bytes(base64.b64decode(v)) for k, v in trusted.items()}
    for seq, key_id, signature, entry_hash in chunk:
        key = keys.get(key_id)
        try:
            if key is None:
                return seq
            key.verify(base64.b64decode(signature), entry_hash.encode("ascii"))
        except (InvalidSignature, ValueError):
            return seq
    return None


class SignatureChecks:
    """Collects signed entries in order and checks them in chunks (``jobs`` > 1: in a pool)."""

    def __init__(self, trusted: Mapping[str, str], jobs: int = 1) -> None:
        self.trusted = dict(trusted)
        self._chunk: list[Signed] = []
        self._futures: list[Future[int | None]] = []
        self._pool = (
            ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
            if jobs > 1
            else None
        )
        self.failed: int | None = None  # set at once in-process; from ``first_failure`` in a pool

    def add(self, seq: int, key_id: str, signature: str, entry_hash: str) -> None:
        self._chunk.append((seq, key_id, signature, entry_hash))
        if len(self._chunk) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        if self._pool is None:
            if self.failed is None:
                self.failed = first_invalid(self.trusted, chunk)
        else:
            self._futures.append(self._pool.submit(first_invalid, self.trusted, chunk))

    def first_failure(self) -> int | None:
        """Wait for every chunk; the first seq whose signature does not verify, if any."""
        self._flush()
        for future in self._futures:
            bad = future.result()
            if bad is not None:
                return bad
        return self.failed

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
