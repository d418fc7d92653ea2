"""The published report: the raw figures after disclosure control, as JSON and CSV.

:func:`build_report` is what the server publishes and what ``prereview transparency
recompute`` rebuilds from the log to compare (:func:`differences`). Standard library only,
apart from the optional noise.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prereview.transparency import disclosure
from prereview.transparency.figures import RawFigures, compute
from prereview.transparency.periods import Period

FORMAT = "prereview-transparency-report/v1"

_DISTRIBUTION_BASIS = {
    "review.accessDaysUsed": "days each window opened in the period was open (to its end, "
    "the release, the withdrawal or the period's end, whichever came first)",
    "review.accessShareOfMaximum": "those days as a share of the policy maximum in force "
    "when the window opened",
    "review.hoursToFirstFinding": "hours from a window's opening to its first finding, for "
    "windows opened in the period",
    "clearinghouse.hoursReceivedToDisclosed": "hours from a report's intake to its "
    "publication as an advisory, for advisories published in the period",
    "clearinghouse.hoursReceivedToFixed": "hours from a report's intake to a vendor's 'fixed', "
    "for fixes stated in the period",
    "clearinghouse.funnel.hoursReceivedToTriaged": "hours from intake to an analyst's first "
    "triage, for reports received in the period",
    "clearinghouse.funnel.hoursTriagedToReproduced": "hours from the first triage to the "
    "server's first verdict that a proof of concept reproduced, for reports received in the "
    "period",
    "clearinghouse.funnel.hoursReproducedToNotified": "hours from that verdict to the first "
    "vendor being told (its paced delivery), for reports received in the period",
    "clearinghouse.funnel.hoursNotifiedToAcknowledged": "hours from the first vendor being "
    "told to a vendor's first status other than not contacted or no response, for reports "
    "received in the period",
    "clearinghouse.funnel.hoursAcknowledgedToFixed": "hours from that first vendor status to a "
    "vendor's 'fixed', for reports received in the period",
    "clearinghouse.funnel.hoursFixedToDisclosed": "hours from the first 'fixed' to publication "
    "as an advisory, for reports received in the period",
}


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """The signed checkpoint a report was computed from."""

    origin: str
    size: int
    root: str
    """Standard base64 of the root hash."""
    note: str
    verifier_key: str
    signed_at: datetime

    def published(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "rootHash": self.root,
            "note": self.note,
            "verifierKey": self.verifier_key,
            "signedAt": self.signed_at.isoformat(),
        }


def as_of(period: Period, checkpoint_signed_at: datetime) -> datetime:
    """The moment a report reads up to: the period's end, or the checkpoint's if earlier."""
    return min(period.end, checkpoint_signed_at)


def _counts(
    raw: RawFigures, shown: Mapping[str, int], withheld: disclosure.Suppression
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    entry: dict[str, Any]
    for name in sorted(raw.counts):
        if name in raw.hidden:
            continue
        if name in withheld.primary:
            entry = {"value": None, "status": "suppressed", "note": "a count from 1 to 10"}
        elif name in withheld.complementary:
            entry = {
                "value": None,
                "status": "suppressed",
                "note": "withheld so that a small count cannot be derived from the others",
            }
        else:
            entry = {"value": shown[name], "status": "published", "note": None}
        out[name] = entry
    for name, (numerator, denominator) in sorted(raw.ratios.items()):
        if {numerator, denominator} & withheld.withheld or shown[denominator] == 0:
            entry = {
                "value": None,
                "status": "suppressed" if shown[denominator] else "not-applicable",
                "note": f"{numerator} / {denominator}, published only when both are",
            }
        else:
            share = round(shown[numerator] / shown[denominator], 3)
            entry = {"value": share, "status": "published", "note": None}
        if name in raw.unrecorded:
            entry["note"] = raw.unrecorded[name]
        out[name] = entry
    return out


def _distributions(raw: RawFigures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in sorted(raw.samples.items()):
        entry: dict[str, Any] = {"median": None, "q1": None, "q3": None}
        if len(values) > disclosure.THRESHOLD:
            q1, median, q3 = statistics.quantiles(sorted(values), n=4, method="inclusive")
            digits = 3 if "Share" in name else 1
            entry |= {
                "median": round(median, digits),
                "q1": round(q1, digits),
                "q3": round(q3, digits),
                "status": "published",
            }
        else:
            entry["status"] = "suppressed" if values else "not-applicable"
        entry["basis"] = _DISTRIBUTION_BASIS[name]
        entry["note"] = raw.unrecorded.get(name) or (
            None if entry["status"] == "published" else "published over more than 10 values only"
        )
        out[name] = entry
    return out


def build_report(
    leaves: Iterable[Mapping[str, Any]],
    period: Period,
    checkpoint: CheckpointRef,
    *,
    epsilon: float | None = None,
) -> dict[str, Any]:
    """The published report of ``period`` from the log's entries up to ``checkpoint``."""
    moment = as_of(period, checkpoint.signed_at)
    raw = compute(leaves, period, moment)
    shown, budget = dict(raw.counts), None
    if epsilon is not None:
        from prereview.transparency.noise import add_noise

        shown, budget = add_noise(raw.counts, epsilon)
    withheld = disclosure.suppress(shown, raw.relations, raw.hidden)
    maximum = (
        raw.maximum_days if raw.counts["review.windowsOpened"] > disclosure.THRESHOLD else None
    )
    return {
        "format": FORMAT,
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "complete": moment >= period.end,
        },
        "asOf": moment.isoformat(),
        "checkpoint": checkpoint.published(),
        "disclosure": {
            "threshold": disclosure.THRESHOLD,
            "method": "counts from 1 to 10 withheld; complementary suppression until no "
            "withheld count is determined by the published ones and the stated relations",
            "relations": [{"total": r.total, "parts": list(r.parts)} for r in raw.relations],
            "noise": budget.published() if budget else None,
        },
        "figures": _counts(raw, shown, withheld),
        "distributions": _distributions(raw),
        "policyMaximumDays": maximum,
        "unrecorded": dict(sorted(raw.unrecorded.items())),
    }


CSV_COLUMNS = ("figure", "statistic", "value", "status", "note")


def to_csv(report: Mapping[str, Any]) -> str:
    """The report's figures as CSV, one row per published statistic; the checkpoint and the
    disclosure method in leading ``#`` rows, so that the file alone says where it comes from."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    point = report["checkpoint"]
    buffer.write(f"# {report['format']} period={report['period']['label']}\n")
    buffer.write(
        f"# checkpoint origin={point['origin']} size={point['size']} "
        f"root={point['rootHash']} asOf={report['asOf']}\n"
    )
    noise = report["disclosure"]["noise"]
    buffer.write(
        "# counts 1-10 suppressed with complementary suppression; noise="
        + (f"{noise['mechanism']} epsilonTotal={noise['epsilonTotal']}" if noise else "none")
        + "\n"
    )
    writer.writerow(CSV_COLUMNS)
    for name, entry in report["figures"].items():
        writer.writerow(
            [name, "value", _cell(entry["value"]), entry["status"], entry["note"] or ""]
        )
    for name, entry in report["distributions"].items():
        for statistic in ("median", "q1", "q3"):
            writer.writerow(
                [name, statistic, _cell(entry[statistic]), entry["status"], entry["note"] or ""]
            )
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def differences(published: Mapping[str, Any], recomputed: Mapping[str, Any]) -> list[str]:
    """What differs between a published report and one recomputed from the log, one line each.

    With noise, counts (and the shares and suppressions that follow from them) cannot be
    recomputed, only the distributions and the checkpoint; the caller says so.
    """
    found: list[str] = []
    for key in ("period", "asOf", "checkpoint"):
        if published.get(key) != recomputed.get(key):
            found.append(
                f"{key}: published {published.get(key)!r}, recomputed {recomputed.get(key)!r}"
            )
    sections = ["distributions"]
    if not published.get("disclosure", {}).get("noise"):
        sections += ["figures", "policyMaximumDays"]
    for section in sections:
        ours, theirs = recomputed.get(section), published.get(section)
        if not isinstance(ours, dict) or not isinstance(theirs, dict):
            if ours != theirs:
                found.append(f"{section}: published {theirs!r}, recomputed {ours!r}")
            continue
        for name in sorted(set(ours) | set(theirs)):
            if ours.get(name) != theirs.get(name):
                found.append(
                    f"{section}.{name}: published {theirs.get(name)!r}, "
                    f"recomputed {ours.get(name)!r}"
                )
    return found
