"""The converters on real records: PyPA OSV files and Red Hat's CSAF advisories, as published."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from prereview.core.markings import Tlp
from prereview.exchange.csaf_import import csaf_to_reports
from prereview.exchange.cve5 import CveAssigner, advisory_to_cve5
from prereview.exchange.documents import load_documents
from prereview.exchange.errors import InvalidExchangeDocument
from prereview.exchange.osv import advisory_to_osv, osv_to_report
from prereview.exchange.validation import Standard, schema_problems
from prereview.vulnerability.report import publish

ROOT = Path(__file__).resolve().parents[2]
PYPA = ROOT / "tests" / "data" / "osv-pypa" / "vulns"
RED_HAT = ROOT.parent / "shared" / "standards" / "csaf" / "examples" / "csaf"
ASSIGNER = CveAssigner(UUID("8254265b-2729-46b6-b9e3-3dfca2d5bfca"), "prereview")


def pypa(path: str) -> dict[str, object]:
    (record,) = load_documents((PYPA / path).read_bytes())
    assert isinstance(record, dict)
    return record


def test_a_stray_comma_in_one_alias_keeps_the_record_and_flags_the_alias() -> None:
    record = pypa("keylime/PYSEC-2022-184.yaml")
    assert record["aliases"] == ["CVE-2022-1053", "GHSA-jf66-3q76-h5p5,", "GHSA-jf66-3q76-h5p5"]
    report = osv_to_report(record, "PyPA")
    assert report.aliases == ["CVE-2022-1053", "GHSA-jf66-3q76-h5p5"]
    assert report.flagged_aliases == ["GHSA-jf66-3q76-h5p5,"]
    (warning,) = report.warnings
    assert warning["path"] == "$.flagged_aliases[0]"
    assert "'GHSA-jf66-3q76-h5p5,'" in warning["message"]
    # The flagged alias travels with our own exports and comes back flagged.
    again = osv_to_report(advisory_to_osv(report), "PyPA")
    assert (again.aliases, again.flagged_aliases) == (report.aliases, report.flagged_aliases)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("binderhub/PYSEC-2021-371.yaml", "195caac172690456dcdc8cc7a6ca50e05abf8182.patch"),
        ("matrix-synapse/PYSEC-2021-424.yaml", "cb35df940a"),
        ("vyper/PYSEC-2023-80.yaml", "02339dfda0f3caabad142060d511d10bfe93c520."),
    ],
)
def test_a_git_event_that_is_not_a_full_hash_is_named_with_its_path(path: str, value: str) -> None:
    with pytest.raises(InvalidExchangeDocument) as refused:
        osv_to_report(pypa(path), "PyPA")
    (problem,) = refused.value.extra["errors"]
    assert problem["path"] == "$.affected[0].ranges[0].events[1].fixed"
    assert repr(value) in problem["message"] and "does not match" in problem["message"]
    assert "'introduced' is a required property" not in problem["message"]


def test_public_osv_records_are_clear_and_withdrawn_is_kept_through_the_exports() -> None:
    record = pypa("aiohttp/PYSEC-2022-43059.yaml")
    assert "withdrawn" in record
    report = osv_to_report(record, "PyPA")
    assert report.tlp is Tlp.CLEAR and report.withdrawn is not None
    advisory = publish(report, report.modified or report.withdrawn)
    osv = advisory_to_osv(advisory)
    assert osv["withdrawn"].startswith(str(record["withdrawn"])[:19])
    assert schema_problems(osv, Standard.OSV) == []
    cve = advisory_to_cve5(advisory, ASSIGNER, "https://clearinghouse.example/a/1")
    assert cve["cveMetadata"]["state"] == "REJECTED"
    assert cve["cveMetadata"]["cveId"] in record["aliases"]  # type: ignore[operator]
    assert cve["cveMetadata"]["dateRejected"] == osv["withdrawn"]
    assert schema_problems(cve, Standard.CVE5) == []
    # Not withdrawn: the record stays PUBLISHED.
    live = report.model_copy(update={"withdrawn": None})
    published = advisory_to_cve5(publish(live, advisory.modified), ASSIGNER, "https://e.example/")
    assert published["cveMetadata"]["state"] == "PUBLISHED"


def test_red_hat_components_keep_the_platform_cpe_instead_of_a_generic_purl() -> None:
    document = json.loads((RED_HAT / "rhsa-2022_0011.json").read_text())
    (item,) = csaf_to_reports(document, "Red Hat")
    assert item.report is not None
    products = item.report.affected
    assert all(p.purl is None or not p.purl.startswith("pkg:generic/") for p in products)
    assert {p.cpe for p in products} == {
        "cpe:2.3:o:redhat:rhel_aus:7.6:*:server:*:*:*:*:*",
        "cpe:2.3:o:redhat:rhel_e4s:7.6:*:server:*:*:*:*:*",
        "cpe:2.3:o:redhat:rhel_tus:7.6:*:server:*:*:*:*:*",
    }
    # The fixed NEVRAs stay, as the fixed versions of the platform's package set.
    fixed = {e.version for p in products for r in p.ranges for e in r.events}
    assert "telnet-1:0.17-65.el7_6.x86_64" in fixed
