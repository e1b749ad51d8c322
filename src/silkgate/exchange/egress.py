"""Where webhooks may go: public addresses only, unless an operator allows a host or network.

A subscriber chooses the URL, so without this an organization could make the platform call
its own internal services (SSRF). The check runs at subscription (address literals and
``localhost``) and again at every delivery, on the addresses the name resolves to then; the
request is sent to the checked address (Host header and TLS SNI keep the name), so a name
that re-resolves between check and connection (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(Exception):
    """The URL's host is not a public address and not on the allow-list."""


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL to connect to, and the name for Host and SNI."""

    url: str
    host_header: str
    sni_hostname: str | None


def _allow(entries: Sequence[str]) -> tuple[set[str], list[Network]]:
    names: set[str] = set()
    nets: list[Network] = []
    for e in entries:
        try:
            nets.append(ipaddress.ip_network(e.strip(), strict=False))
        except ValueError:
            names.add(e.strip().lower().rstrip("."))
    return names, nets


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _public_or_allowed(addr: IPAddress, nets: Sequence[Network]) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global or any(addr in n for n in nets)


def check_url(url: str, allow: Sequence[str]) -> None:
    """Refuse, without resolving names, a URL whose host is a non-public literal or localhost."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    names, nets = _allow(allow)
    if host in names:
        return
    addr = _literal(host)
    if addr is None and (host == "localhost" or host.endswith(".localhost")):
        addr = ipaddress.ip_address("127.0.0.1")
    if addr is not None and not _public_or_allowed(addr, nets):
        raise EgressRefused(
            f"{host} is not a public address; an operator can allow it with "
            "SILKGATE_EXCHANGE_WEBHOOK_ALLOW"
        )


def resolve(url: str, allow: Sequence[str]) -> Target:
    """Resolve the URL's host now, check every address, and pin the request to the first."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    names, nets = _allow(allow)
    literal = _literal(host)
    if literal is not None:
        addrs: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise EgressRefused(f"{host} does not resolve: {exc}") from None
        addrs = list(dict.fromkeys(ipaddress.ip_address(i[4][0]) for i in infos))
    if host not in names:
        bad = [a for a in addrs if not _public_or_allowed(a, nets)]
        if bad:
            raise EgressRefused(
                f"{host} resolves to {bad[0]}, not a public address; an operator can allow it "
                "with SILKGATE_EXCHANGE_WEBHOOK_ALLOW"
            )
    if literal is not None:
        return Target(url, parts.netloc.rpartition("@")[2], None)
    pinned = addrs[0]
    ip_host = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
    return Target(
        urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        parts.netloc.rpartition("@")[2],
        host if parts.scheme == "https" else None,
    )
