"""Per-write cost of signed submissions and receipts, in process (no HTTP, no database).

Run: .venv/bin/python bench/receipts.py [--n 2000]
Times, best of 5 rounds over a demo declaration body: checking an X-JWS-Signature
(``audit.submissions.verify_request``: parse, header checks, Ed25519 verify) and building and
signing a write receipt (``audit.receipts``: claims, canonical JSON, compact JWS). The whole
HTTP effect is measured with bench/ingest.py, SILKGATE_WRITE_RECEIPTS=false against true.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import timeit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkgate.audit.checkpoints import sign as sign_checkpoint
from silkgate.audit.receipts import sign_write_receipt, write_receipt_claims
from silkgate.audit.service import AuditSigner
from silkgate.audit.submissions import sign_request, verify_request
from silkgate.core.signing import public_key_b64
from silkgate.core.writes import WriteContext
from silkgate.demo.traffic import TrafficGenerator
from silkgate.registry.service import Caller

TARGET = "/api/v1/declarations"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000, help="calls per round")
    n = ap.parse_args().n
    body = json.dumps(TrafficGenerator(seed=1).declaration()).encode()
    key = Ed25519PrivateKey.generate()
    caller = Caller(1, "CN/COM/X", "CN", frozenset(), frozenset(), public_key_b64(key))
    value = sign_request(key, "POST", TARGET, body)

    def verify() -> None:
        verify_request(caller, value, body, "POST", TARGET, time.time(), 300)

    signer = AuditSigner(Ed25519PrivateKey.generate())
    checkpoint = sign_checkpoint(signer, 10, "ab" * 32)
    write = WriteContext("POST", TARGET, "CN/COM/X")
    write.entries = [(11, "cd" * 32), (12, "ef" * 32)]
    digest = (hashlib.sha256(body).hexdigest(), len(body))

    def receipt() -> str:
        claims = write_receipt_claims(write, 201, digest, digest, checkpoint)
        return sign_write_receipt(signer, claims)

    t_verify = min(timeit.repeat(verify, number=n, repeat=5)) / n
    t_receipt = min(timeit.repeat(receipt, number=n, repeat=5)) / n
    load = os.getloadavg()[0]
    print(
        f"body {len(body)} B: X-JWS-Signature check {t_verify * 1e6:.0f} µs; receipt claims + "
        f"signature {t_receipt * 1e6:.0f} µs ({len(receipt())} characters); load {load:.2f}"
    )


if __name__ == "__main__":
    main()
