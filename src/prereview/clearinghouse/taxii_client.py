"""A TAXII 2.1 API root asked over HTTP, for the federation (:mod:`.federation`).

A peer is another clearinghouse, and a compromised one is an adversary, so everything it
sends is bounded and checked here before the federation reads it:

- **Where we connect.** HTTPS only; plain HTTP only to a loopback address, and only for a
  peer declared on a private network (tests, demos). The host name is resolved here, every
  address it resolves to is checked (:func:`refused_address`), and the connection goes to
  the address that was checked (the name is kept for the ``Host`` header and TLS), so a DNS
  answer that changes between the check and the connection cannot reach an internal
  service. Link-local and cloud metadata addresses are always refused; private and loopback
  ones only unless the operator declared the peer private. Redirects are never followed: a
  3xx is refused, so neither the request nor the credential goes anywhere else.
- **What we read.** An answer must say it is TAXII (``application/taxii+json``), is read up to
  :data:`MAX_ANSWER_BYTES`, must be a JSON object nested at most :data:`MAX_DEPTH` deep, and
  paging stops at :data:`MAX_PAGES` pages or at a ``next`` token seen before.
- **The credential** goes in a header only and is scrubbed from every message raised here.

Retries transport errors, 5xx and 429 with backoff; any other 4xx is refused at once.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from prereview.core.errors import PrereviewError

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
# A peer's answer is read up to this size, then refused: a hostile peer cannot fill memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# TAXII envelopes and STIX vulnerability objects nest a handful of levels; a peer's answer
# nested deeper is refused rather than walked (json's recursion, and ours, stay bounded).
MAX_DEPTH = 24
# Pages one paging walk may read: a peer answering ``more`` forever, each time with a fresh
# ``next``, ends the walk here (10,000 pages of up to 1,000 objects: far more than any peer).
MAX_PAGES = 10_000
# A ``next`` token is stored to resume an interrupted pull (``resume_next``, 500 characters).
MAX_NEXT = 500
RETRIES = 3
# Always refused, even for a peer declared private: cloud metadata services answer here.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
Resolver = Callable[[str, int], list[str]]


class FederationError(PrereviewError):
    slug = "federation-peer-failed"
    status = 502
    title = "The federation peer did not answer as TAXII 2.1 asks"


class PeerRefused(FederationError):
    """The peer answered with a 4xx: retrying would not help."""

    slug = "federation-peer-refused"
    title = "The federation peer refused the request"


class PeerAddressRefused(FederationError):
    """The peer's address is one this server does not connect to."""

    slug = "federation-peer-address-refused"
    title = "The federation peer's address is refused"


def refused_address(address: str, *, allow_private: bool) -> str | None:
    """Why this server will not connect to ``address`` (None when it may)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA or ip.is_link_local:
        return f"{ip} is a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if not ip.is_global and not allow_private:
        return (
            f"{ip} is a private or loopback address: declare the peer with "
            "--private-network if it really is on a private network"
        )
    return None


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def literal_address(host: str) -> str | None:
    """The host as an IP address, when it is written as one."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (a literal address is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FederationError(f"the peer's host name does not resolve: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _depth_within(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests at most ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def _is_taxii(content_type: str | None) -> bool:
    media, _, parameters = (content_type or "").partition(";")
    if media.strip().lower() != "application/taxii+json":
        return False
    version = [p.split("=", 1)[1].strip() for p in parameters.split(";") if "=" in p]
    return not version or version[0] == "2.1"


class TaxiiPeer:
    """A TAXII 2.1 API root asked over HTTP, with retries and bounded answers. Errors it
    raises never carry the credential (it is in a header only, and scrubbed from messages)."""

    def __init__(
        self,
        api_root: str,
        token: str,
        username: str | None = None,
        *,
        allow_private: bool = False,
        retries: int = RETRIES,
        backoff: float = 0.5,
        timeout: float = 30.0,
        pause: Callable[[float], None] = time.sleep,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._token = token
        parts = urlsplit(api_root)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._netloc = parts.netloc
        self._root_path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self._allow_private = allow_private
        self._resolver = resolver or resolve
        auth: httpx.Auth | None = httpx.BasicAuth(username, token) if username else None
        headers = {"Accept": TAXII_MEDIA_TYPE}
        if auth is None:
            headers["Authorization"] = f"Bearer {token}"
        # No base URL and no redirects: every request goes to an address checked just before.
        # TLS is verified against the peer's name (sent as SNI), though the connection goes
        # to the checked address.
        self._client = httpx.Client(
            headers=headers, auth=auth, timeout=timeout, follow_redirects=False, verify=verify
        )
        self._retries = retries
        self._backoff = backoff
        self._pause = pause

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[credential]") if self._token else text

    def scrub(self, text: str) -> str:
        """``text`` without the credential: for any message that may carry what the peer
        sent (the peer knows the token it was sent, and may echo it back)."""
        return self._scrub(text)

    def _target(self, path: str) -> str:
        """The URL to connect to: the peer's host resolved, checked, and written as the
        address that was checked."""
        if self._scheme not in ("http", "https") or not self._host:
            raise PeerAddressRefused("the peer's API root is not an http(s) URL")
        addresses = self._resolver(self._host, self._port)
        if not addresses:
            raise PeerAddressRefused("the peer's host name resolves to no address")
        for address in addresses:
            why = refused_address(address, allow_private=self._allow_private)
            if why is not None:
                raise PeerAddressRefused(f"the peer's address is refused: {why}")
        chosen = addresses[0]
        if self._scheme != "https" and not (self._allow_private and is_loopback(chosen)):
            raise PeerAddressRefused(
                "the peer must be asked over https (plain http only to a loopback address "
                "of a peer declared on a private network)"
            )
        host = f"[{chosen}]" if ":" in chosen else chosen
        return f"{self._scheme}://{host}:{self._port}{self._root_path}{path.lstrip('/')}"

    def get(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], httpx.Headers]:
        """One TAXII answer (JSON object) and its headers, retried on transport errors, 5xx
        and 429; a 3xx or another 4xx is :class:`PeerRefused`."""
        last = ""
        for attempt in range(self._retries):
            if attempt:
                self._pause(self._backoff * attempt)
            url = self._target(path)
            try:
                with self._client.stream(
                    "GET",
                    url,
                    params=params,
                    headers={"Host": self._netloc},
                    extensions={"sni_hostname": self._host},
                ) as answer:
                    if answer.status_code >= 500 or answer.status_code == 429:
                        last = f"answered {answer.status_code}"
                        continue
                    if 300 <= answer.status_code < 400:
                        raise PeerRefused(
                            f"GET {path} answered a redirect ({answer.status_code}): "
                            "redirects are not followed"
                        )
                    if answer.status_code != 200:
                        raise PeerRefused(f"GET {path} was refused: {answer.status_code}")
                    if not _is_taxii(answer.headers.get("content-type")):
                        raise FederationError(f"GET {path}: the answer is not {TAXII_MEDIA_TYPE}")
                    body = bytearray()
                    for chunk in answer.iter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            raise FederationError(
                                f"GET {path}: the answer is over {MAX_ANSWER_BYTES} bytes"
                            )
                    try:
                        value = json.loads(bytes(body))
                    except RecursionError:
                        value = None
                    except ValueError:
                        last = "answered something that is not JSON"
                        continue
                    if value is not None and not _depth_within(value, MAX_DEPTH):
                        value = None
                    if value is None:
                        raise FederationError(
                            f"GET {path}: the answer nests deeper than {MAX_DEPTH} levels"
                        )
                    if not isinstance(value, dict):
                        raise FederationError(f"GET {path}: the answer is not a JSON object")
                    return value, answer.headers
            except httpx.HTTPError as exc:
                last = type(exc).__name__
        raise FederationError(self._scrub(f"GET {path} failed after {self._retries} tries: {last}"))

    def pages(
        self,
        path: str,
        params: dict[str, str],
        start_next: str | None = None,
        *,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[tuple[dict[str, Any], httpx.Headers, str | None]]:
        """Every page of a paged TAXII endpoint, each with the token of the page after it.
        A ``next`` token seen before in this walk, one that is not short printable text, or
        more than ``max_pages`` pages end the walk with a :class:`FederationError`."""
        token = start_next
        seen: set[str] = set()
        for _ in range(max_pages):
            asked = dict(params) | ({"next": token} if token else {})
            body, headers = self.get(path, asked)
            more = body.get("more") is True
            following = body.get("next") if more else None
            if more and not isinstance(following, str):
                raise FederationError(f"GET {path}: 'more' without a 'next' token")
            if following is not None:
                if not following or len(following) > MAX_NEXT or not following.isprintable():
                    raise FederationError(f"GET {path}: the 'next' token is not a short text")
                if following in seen or following == start_next:
                    raise FederationError(
                        f"GET {path}: the peer sent a 'next' token it sent before"
                    )
                seen.add(following)
            yield body, headers, following
            if following is None:
                return
            token = following
        raise FederationError(f"GET {path}: more than {max_pages} pages")
