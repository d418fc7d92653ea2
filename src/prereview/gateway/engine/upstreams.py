"""Which upstream addresses the gateway may connect to: not the platform's own network.

A developer registers its endpoint's base URL, and the gateway then sends reviewers' requests
there and relays the answer back. Without a check, a hostile registration (``127.0.0.1:6379``,
``0x7f000001``, ``[::ffff:10.0.0.5]``, or a public name whose DNS later answers ``10.0.0.5``)
would make the gateway a way into the platform's internal services, with their answers shown to
the reviewer and kept in transcripts.

:class:`UpstreamGuard` refuses, by default, every address that is not globally routable
(loopback, private, link-local, shared, unspecified, multicast, reserved, documentation), IPv4
addresses hidden in IPv6 (IPv4-mapped, 6to4, NAT64) by the address they carry, and the
addresses of this machine's own interfaces. It is applied twice:

* **at registration** (:meth:`UpstreamGuard.check_registration`): the host is parsed in every
  IPv4 notation a resolver accepts (decimal, octal, hexadecimal, one to four parts) and as IPv6,
  and a name is resolved; if any address is refused, so is the registration. A name that does
  not resolve yet is accepted: the second check covers it.
* **at every connection** (:class:`GuardedConnector`): the addresses the connector is about to
  use, after DNS, are checked again, so a name that resolved to a public address at
  registration and to a private one later (DNS rebinding) is refused before any byte is sent.

Exceptions are an explicit allow-list of exact origins (``PREREVIEW_GATEWAY_UPSTREAM_ALLOW``:
scheme, host and port): allowing ``http://127.0.0.1:8123`` allows that port on that host and
nothing else. At connection time the connector sees a host and a port only; an allow-listed
origin there admits that (host, port) pair, which is the same socket whatever the scheme.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.tracing import Trace

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class Origin(NamedTuple):
    """An origin as RFC 6454 has it: scheme, lower-cased host (IPv6 without brackets), port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url``; raises ``ValueError`` for a URL that is not http(s)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("an origin is an absolute http:// or https:// URL")
        port = parts.port
        return cls(scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme])


class UpstreamRefused(aiohttp.ClientError):
    """Raised by :class:`GuardedConnector` instead of connecting to a refused address.

    It carries no address: the engine turns it into a problem that names neither host nor port.
    """


def _ipv4_part(text: str) -> int | None:
    if not text:
        return None
    lowered = text.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered[1:], 8)
        if lowered.isdigit():
            return int(lowered, 10)
    except ValueError:
        return None
    return None


def parse_ipv4_any(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as an IPv4 address in any notation ``inet_aton`` or a browser accepts
    (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``, a trailing dot), or None."""
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    # The last part fills the bytes the others leave (a.b.c.d, a.b.c16, a.b24, a32).
    for value in values[:-1]:
        if value > 255:
            return None
    last_bits = 8 * (5 - len(values))
    if values[-1] >= 1 << last_bits:
        return None
    number = 0
    for value in values[:-1]:
        number = number << 8 | value
    number = number << last_bits | values[-1]
    return ipaddress.IPv4Address(number)


def parse_ip_literal(host: str) -> IPAddress | None:
    """``host`` (from a URL, brackets allowed) as an IP address, or None if it is a name."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        # A zone index (fe80::1%eth0) says link-local anyway; drop it to parse the address.
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4_any(text)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused_reason(address: IPAddress, own: frozenset[IPAddress] = frozenset()) -> str | None:
    """Why the gateway does not connect to ``address`` ("loopback", "private", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refused_reason(embedded, own)
        if address.scope_id:
            return "link-local"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        # Shared (100.64/10), reserved, documentation and benchmarking ranges.
        return "not globally routable"
    if address in own:
        return "this machine's own address"
    return None


def _interface_ipv4() -> set[IPAddress]:
    found: set[IPAddress] = set()
    siocgifaddr = 0x8915
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            with contextlib.suppress(OSError):
                answer = fcntl.ioctl(probe.fileno(), siocgifaddr, request)
                found.add(ipaddress.IPv4Address(answer[20:24]))
    return found


def _interface_ipv6() -> set[IPAddress]:
    found: set[IPAddress] = set()
    with contextlib.suppress(OSError, ValueError), open("/proc/net/if_inet6") as lines:
        for line in lines:
            found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    return found


def own_addresses() -> frozenset[IPAddress]:
    """The addresses of this machine's interfaces and of its host name (best effort)."""
    found = _interface_ipv4() | _interface_ipv6()
    with contextlib.suppress(OSError, UnicodeError):
        for info in socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM):
            with contextlib.suppress(ValueError):
                found.add(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
    return frozenset(found)


class UpstreamGuard:
    """Decides whether an upstream origin or address may be reached (see the module).

    ``allow`` returns the allow-listed origins (URLs; only scheme, host and port count); it is
    read on every check, so a list held by the settings can grow at run time (the demo adds its
    simulator). :meth:`allow` adds one origin to the guard itself. ``resolve`` is the blocking
    resolver used at registration (``socket.getaddrinfo`` by default; tests replace it).
    """

    def __init__(
        self,
        allow: Callable[[], Iterable[str]] | Iterable[str] = (),
        *,
        own: frozenset[IPAddress] | None = None,
        resolve: Callable[[str, int], Sequence[str]] | None = None,
    ) -> None:
        self._allow_source: Callable[[], Iterable[str]] | None = allow if callable(allow) else None
        self._extra: set[Origin] = set() if callable(allow) else {Origin.of(u) for u in allow}
        self._parsed: tuple[tuple[str, ...], frozenset[Origin]] = ((), frozenset())
        self._own = own if own is not None else own_addresses()
        self._resolve = resolve or _getaddrinfo

    @classmethod
    def from_settings(cls, settings: Any) -> UpstreamGuard:
        """A guard reading ``settings.gateway_upstream_allow`` on every check."""
        return cls(lambda: settings.gateway_upstream_allow)

    def allow(self, url: str) -> None:
        """Allow-list the origin of ``url`` (scheme, host, port) from now on."""
        self._extra.add(Origin.of(url))

    def allowed_origins(self) -> frozenset[Origin]:
        """Every allow-listed origin (the settings' and those added with :meth:`allow`)."""
        if self._allow_source is None:
            return frozenset(self._extra)
        listed = tuple(self._allow_source())
        if listed != self._parsed[0]:
            self._parsed = (listed, frozenset(Origin.of(u) for u in listed))
        return self._parsed[1] | self._extra

    def is_allowed(self, origin: Origin) -> bool:
        """Whether exactly this origin is allow-listed."""
        return origin in self.allowed_origins()

    def host_port_allowed(self, host: str, port: int) -> bool:
        """Whether an allow-listed origin has this host and port (the connector's view)."""
        host = host.lower().rstrip(".")
        return any(o.host == host and o.port == port for o in self.allowed_origins())

    def refused(self, address: str) -> str | None:
        """Why a resolved address may not be connected to, or None."""
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        if "%" in address:
            return "link-local"
        return refused_reason(parsed, self._own)

    def check_registration(self, url: str) -> str | None:
        """Why the base URL ``url`` may not be registered, or None if it may.

        The reason never repeats the URL or the host (both are confidential).
        """
        origin = Origin.of(url)
        if self.is_allowed(origin):
            return None
        host = origin.host
        if host == "localhost" or host.endswith(".localhost"):
            return "it names this machine (localhost)"
        literal = parse_ip_literal(host)
        if literal is not None:
            reason = refused_reason(literal, self._own)
            return None if reason is None else f"its address is {reason}"
        try:
            addresses = self._resolve(host, origin.port)
        except (OSError, UnicodeError):
            # Not resolvable (yet): every connection is checked again after DNS.
            return None
        for address in addresses:
            reason = self.refused(address)
            if reason is not None:
                return f"its name resolves to an address that is {reason}"
        return None


def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that connects only to addresses the guard accepts.

    The check runs on the addresses the connector is about to use (an IP literal, or what DNS
    and the DNS cache returned), so what is checked is what is connected to.
    """

    def __init__(self, guard: UpstreamGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._guard = guard

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        if self._guard.host_port_allowed(host, port):
            return await super()._resolve_host(host, port, traces=traces)
        literal = parse_ip_literal(host)
        if literal is not None and self._guard.refused(str(literal)) is not None:
            raise UpstreamRefused("the upstream address is refused")
        results = await super()._resolve_host(host, port, traces=traces)
        for result in results:
            if self._guard.refused(result["host"]) is not None:
                # One refused address refuses the name: a rebinding answer may mix them.
                raise UpstreamRefused("the upstream address is refused")
        return results
