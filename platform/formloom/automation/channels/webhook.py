"""Webhooks: a signed JSON POST that refuses to reach private networks.

The URL's host is resolved first (legacy IPv4 spellings such as 2130706433 or
0177.0.0.1 read the way the C resolver reads them) and every address checked:
loopback, private, link-local, multicast, reserved, unspecified and other
non-global addresses, including IPv4-mapped IPv6 (::ffff:127.0.0.1), are refused
unless FORMLOOM_WEBHOOK_ALLOW_PRIVATE=1 or the host / a network containing the
address is in FORMLOOM_WEBHOOK_ALLOW. The connection then goes to the checked
address (no second lookup an attacker could rebind), with the original Host
header and TLS server name. Redirects are not followed. Nothing is sent to a
refused address.

Headers: X-Formloom-Signature: sha256=HMAC-SHA256(secret, body), Idempotency-Key.
4xx answers (but 408/429) and 3xx are permanent failures; 5xx, 408, 429,
timeouts and connection errors temporary.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

from . import PermanentError, TemporaryError

SIGNATURE_HEADER = "X-Formloom-Signature"
USER_AGENT = "Formloom-Webhook/1"
_LEGACY_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")


class AddressRefused(PermanentError):
    """The webhook's host is (or resolves to) an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str            # as written in the URL (for Host and TLS)
    port: int
    path: str
    address: str         # the checked IP to connect to


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP a host names without DNS: IPv6/IPv4 literals and the legacy IPv4 forms
    (decimal 2130706433, octal 0177.0.0.1, hex 0x7f.1) that resolvers accept."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` may not be reached, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if mapped is not None:
            inner = refusal(mapped)
            return f"{inner} (inside the IPv6 address {ip})" if inner else None
    for check, why in ((ip.is_loopback, "a loopback address"), (ip.is_private, "a private address"),
                       (ip.is_link_local, "a link-local address"), (ip.is_multicast, "a multicast address"),
                       (ip.is_unspecified, "an unspecified address"), (ip.is_reserved, "a reserved address")):
        if check:
            return f"{ip} is {why}"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _allowed(host: str, ip, allow: Iterable[str]) -> bool:
    for entry in allow:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)
        if any(c.version == network.version and c in network for c in candidates):
            return True
    return False


def resolve(url: str, *, allow_private: bool = False, allow: Iterable[str] = ()) -> Target:
    """Check the URL and pick the address to connect to; raise AddressRefused / PermanentError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(f"a webhook URL must start with http:// or https:// and name a host: {url!r}")
    if parts.username or parts.password:
        raise PermanentError("a webhook URL may not carry a user name or password")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise PermanentError(f"the webhook URL has a bad port: {exc}") from None
    ip = literal_ip(host)
    if ip is not None:
        addresses = [ip]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise TemporaryError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise TemporaryError(f"{host} has no address")
    allow = tuple(allow)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason and not _allowed(host, address, allow):
                raise AddressRefused(f"webhook to {host} refused: {reason}; private and loopback addresses "
                                     f"are refused unless FORMLOOM_WEBHOOK_ALLOW_PRIVATE=1 or "
                                     f"FORMLOOM_WEBHOOK_ALLOW lists them")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, str(addresses[0]))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP, with SNI and certificate checks for the URL's host name."""

    def __init__(self, server_name: str, address: str, port: int, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


def post(url: str, body: bytes, *, secret: str | None, idempotency_key: str, timeout: float = 10.0,
         allow_private: bool = False, allow: Iterable[str] = ()) -> int:
    """POST `body` to `url`; returns the 2xx status or raises TemporaryError / PermanentError."""
    target = resolve(url, allow_private=allow_private, allow=allow)
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target.host, target.address, target.port, timeout)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
    headers = {"Host": host_header, "Content-Type": "application/json; charset=utf-8",
               "User-Agent": USER_AGENT, "Idempotency-Key": idempotency_key, "Content-Length": str(len(body))}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        response.read(65536)
    except (socket.timeout, TimeoutError) as exc:
        raise TemporaryError(f"webhook to {target.host} timed out after {timeout:g}s") from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentError(f"webhook to {target.host}: certificate refused: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TemporaryError(f"webhook to {target.host} failed: {exc or type(exc).__name__}") from exc
    finally:
        connection.close()
    if 200 <= status < 300:
        return status
    if status in (408, 429) or status >= 500:
        raise TemporaryError(f"webhook to {target.host} answered {status}")
    if 300 <= status < 400:
        raise PermanentError(f"webhook to {target.host} answered a redirect ({status}); redirects are not followed")
    raise PermanentError(f"webhook to {target.host} answered {status}")
