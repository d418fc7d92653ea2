"""STIX 2.1 bundles of advisories, marked with TLP 2.0.

A bundle holds the clearinghouse's identity, the advisory's TLP 2.0 marking definition and a
``vulnerability`` object whose external references carry the CVE, CWE and advisory ids.
The ``stix2`` library builds and checks every object. It predefines only TLP 1.0 markings, so
the TLP 2.0 ones are written here from the OASIS definitions (cti-stix-common-objects,
extension-definition-specifications/tlp-2.0): fixed ids, fixed creation time, and the
``tlp_2_0`` property extension. Consumers know these ids; the bundle still carries the marking
object so that it is self-contained.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from stix2 import Bundle, ExternalReference, Identity, MarkingDefinition, Vulnerability  # type: ignore[import-untyped]

from prereview.core.markings import Tlp
from prereview.vulnerability.report import Report

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
TLP2_MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# Deterministic ids: exporting the same advisory twice gives the same STIX objects, so a
# consumer sees an update, not a new vulnerability.
_NAMESPACE = uuid.UUID("6f1d3a52-4f8e-4d3c-9a0e-2b7c1e5d8f40")


def stable_id(object_type: str, key: str) -> str:
    """A STIX id derived from ``key``, in UUIDv4 form as STIX 2.1 asks of SDO ids."""
    digest = uuid.uuid5(_NAMESPACE, f"{object_type}:{key}").bytes
    return f"{object_type}--{uuid.UUID(bytes=digest, version=4)}"


def tlp2_marking(tlp: Tlp) -> MarkingDefinition:
    """The official STIX 2.1 marking definition of a TLP 2.0 label."""
    return MarkingDefinition(
        id=TLP2_MARKING_IDS[tlp],
        created=TLP2_CREATED,
        name=f"TLP:{tlp}",
        extensions={
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": str(tlp).lower()}
        },
    )


def clearinghouse_identity(name: str) -> Identity:
    """The STIX identity of the clearinghouse that publishes (same name, same id)."""
    return Identity(
        id=stable_id("identity", name),
        name=name,
        identity_class="organization",
        created="2026-01-01T00:00:00.000Z",
        modified="2026-01-01T00:00:00.000Z",
    )


def _external_references(advisory: Report) -> list[ExternalReference]:
    """The names the vulnerability is known by: its CVE first (``source_name: "cve"``, as STIX
    2.1 section 4.15 asks of a vulnerability), then the report's own id, other aliases, CWEs,
    and the affected products (``source_name`` ``purl`` or ``cpe``).

    None has a URL: strict validation (a SHOULD of STIX 2.1) wants a hash of whatever a URL
    points at, which a clearinghouse cannot vouch for, and a custom property would need an
    extension definition of its own; the links are listed in the description instead."""
    cve = _cve(advisory)
    references = [ExternalReference(source_name="cve", external_id=cve)] if cve else []
    if advisory.id != cve:
        references.append(ExternalReference(source_name="prereview", external_id=advisory.id))
    for alias in advisory.aliases:
        if alias != cve:
            source = alias.split("-", 1)[0].lower()
            references.append(ExternalReference(source_name=source, external_id=alias))
    references += [ExternalReference(source_name="cwe", external_id=cwe) for cwe in advisory.cwes]
    # The products it affects, by purl and CPE as given: STIX 2.1 has no property for them, and
    # a clearinghouse pulling this over TAXII needs them to route the advisory.
    named = dict.fromkeys(
        (kind, name)
        for product in advisory.affected
        for kind, name in (("purl", product.purl), ("cpe", product.cpe))
        if name
    )
    references += [ExternalReference(source_name=kind, external_id=name) for kind, name in named]
    return references


def _cve(advisory: Report) -> str | None:
    return next((i for i in advisory.identifiers if i.startswith("CVE-")), None)


def _links(advisory: Report, advisory_url: str | None) -> list[dict[str, str]]:
    links = [{"type": "ADVISORY", "url": advisory_url}] if advisory_url else []
    return links + [{"type": str(ref.type), "url": str(ref.url)} for ref in advisory.references]


def advisory_to_stix(
    advisory: Report, publisher_name: str, advisory_url: str | None = None
) -> dict[str, Any]:
    """A STIX 2.1 bundle (as JSON-ready dict) of an advisory, marked with its TLP 2.0 label."""
    if advisory.published is None:
        raise ValueError("only a published advisory can be exported as STIX")
    identity = clearinghouse_identity(publisher_name)
    marking = tlp2_marking(advisory.tlp)
    scores = [s for s in (advisory.cvss_v3, advisory.cvss_v4) if s is not None]
    description = advisory.description
    if scores:  # STIX 2.1 has no CVSS property; say it in words rather than invent one
        description += "\n\n" + "\n".join(
            f"CVSS {s.version}: {s.vector} ({s.base_score} {s.severity})" for s in scores
        )
    links = _links(advisory, advisory_url)
    if links:
        description += "\n\nReferences:\n" + "\n".join(
            f"- {link['type']}: {link['url']}" for link in links
        )
    created = advisory.published
    modified = max(d for d in (created, advisory.modified, advisory.withdrawn) if d is not None)
    vulnerability = Vulnerability(
        id=stable_id("vulnerability", advisory.id),
        created=created,
        modified=modified,
        name=_cve(advisory) or advisory.id,
        description=description,
        external_references=_external_references(advisory),
        created_by_ref=identity.id,
        object_marking_refs=[marking.id],
        # A withdrawn advisory is revoked (STIX 2.1 section 3.6): no longer to be used.
        revoked=advisory.withdrawn is not None,
    )
    bundle = Bundle(
        objects=[identity, marking, vulnerability],
        id=stable_id("bundle", f"{advisory.id}@{advisory.modified}"),
    )
    result: dict[str, Any] = json.loads(bundle.serialize())
    # stix2 writes years before 1000 with fewer than four digits ("1-01-01T..."), which STIX's
    # timestamp format forbids; real records carry such placeholder dates (0001-01-01).
    (exported,) = [o for o in result["objects"] if o["type"] == "vulnerability"]
    exported["created"], exported["modified"] = stix_timestamp(created), stix_timestamp(modified)
    return result


def stix_timestamp(moment: datetime) -> str:
    """A STIX 2.1 timestamp: UTC, four-digit year, milliseconds."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
