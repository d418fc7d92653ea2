"""A TAXII 2.1 API root asked over HTTP, for the federation (:mod:`.federation`).

Retries transport errors, 5xx and 429 with backoff; a 4xx is refused at once. Answers are
read up to :data:`MAX_ANSWER_BYTES` and must be JSON objects. The credential goes in a header
only and is scrubbed from every message this module raises.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from prereview.core.errors import PrereviewError

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
# A peer's answer is read up to this size, then refused: a hostile peer cannot fill memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
RETRIES = 3


class FederationError(PrereviewError):
    slug = "federation-peer-failed"
    status = 502
    title = "The federation peer did not answer as TAXII 2.1 asks"


class PeerRefused(FederationError):
    """The peer answered with a 4xx: retrying would not help."""

    slug = "federation-peer-refused"
    title = "The federation peer refused the request"


class TaxiiPeer:
    """A TAXII 2.1 API root asked over HTTP, with retries and bounded answers. Errors it
    raises never carry the credential (it is in a header only, and scrubbed from messages)."""

    def __init__(
        self,
        api_root: str,
        token: str,
        username: str | None = None,
        *,
        retries: int = RETRIES,
        backoff: float = 0.5,
        timeout: float = 30.0,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token
        auth: httpx.Auth | None = httpx.BasicAuth(username, token) if username else None
        headers = {"Accept": TAXII_MEDIA_TYPE}
        if auth is None:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=api_root, headers=headers, auth=auth, timeout=timeout, follow_redirects=False
        )
        self._retries = retries
        self._backoff = backoff
        self._pause = pause

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[credential]") if self._token else text

    def get(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], httpx.Headers]:
        """One TAXII answer (JSON object) and its headers, retried on transport errors, 5xx
        and 429; a 4xx is :class:`PeerRefused`."""
        last = ""
        for attempt in range(self._retries):
            if attempt:
                self._pause(self._backoff * attempt)
            try:
                with self._client.stream("GET", path, params=params) as answer:
                    if answer.status_code >= 500 or answer.status_code == 429:
                        last = f"answered {answer.status_code}"
                        continue
                    if answer.status_code >= 400:
                        raise PeerRefused(
                            self._scrub(f"GET {path} was refused: {answer.status_code}")
                        )
                    body = bytearray()
                    for chunk in answer.iter_bytes():
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            raise FederationError(
                                f"GET {path}: the answer is over {MAX_ANSWER_BYTES} bytes"
                            )
                    try:
                        value = json.loads(bytes(body))
                    except ValueError:
                        last = "answered something that is not JSON"
                        continue
                    if not isinstance(value, dict):
                        raise FederationError(f"GET {path}: the answer is not a JSON object")
                    return value, answer.headers
            except httpx.HTTPError as exc:
                last = type(exc).__name__
        raise FederationError(self._scrub(f"GET {path} failed after {self._retries} tries: {last}"))

    def pages(
        self, path: str, params: dict[str, str], start_next: str | None = None
    ) -> Iterator[tuple[dict[str, Any], httpx.Headers, str | None]]:
        """Every page of a paged TAXII endpoint, each with the token of the page after it."""
        token = start_next
        while True:
            asked = dict(params) | ({"next": token} if token else {})
            body, headers = self.get(path, asked)
            more = body.get("more") is True
            following = body.get("next") if more else None
            if more and not isinstance(following, str):
                raise FederationError(f"GET {path}: 'more' without a 'next' token")
            yield body, headers, following
            if following is None:
                return
            token = following
