"""The federation's errors: each a problem+json answer with a stable ``type``."""

from __future__ import annotations

from prereview.clearinghouse.taxii_client import FederationError
from prereview.core.errors import Conflict, InvalidInput, NotFound


class InvalidPeer(InvalidInput):
    slug = "federation-invalid-peer"
    title = "The federation peer is not valid"


class PeerNotFound(NotFound):
    slug = "federation-peer-not-found"
    title = "No such federation peer"


class PeerExists(Conflict):
    slug = "federation-peer-exists"
    title = "A federation peer of this name exists"


class PullInProgress(Conflict):
    slug = "federation-pull-in-progress"
    title = "A pull of this federation peer is running"


class LeaseLost(FederationError):
    """This pull's lease expired and another pull took the peer: this one stops writing."""

    slug = "federation-pull-lease-lost"
    title = "The pull lost its lease on the federation peer"
