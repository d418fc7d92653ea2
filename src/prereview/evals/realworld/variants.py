"""A fresh variant of a real-vulnerability exploit task per run, from one recorded seed.

A case whose exploit task varies writes its victim, reference exploit and prompt as
templates (:class:`Template`) with ``@@slot@@`` placeholders: the service's ``port``,
its routes (slots named ``route_*``), its query and body parameter names (``param_*``),
identifiers of the victim wrapper (``name_*``: functions, variables, classes, the
flag's global or environment variable) and sample data (``word_*``). The case itself
(``case.victim``, ``case.exploit``, ``case.exploit_prompt``) is the template rendered
with the canonical values (port 9000, the names as first written), so code that reads a
case directly keeps working.

:func:`variant` draws every slot from ``(seed, case id)``, so ``-T variant_seed=N``
renders the same prompt, victim and reference exploit again, and a transcript of one
seed's variant names routes, parameters and a port that the next seed's victim does not
have. Secrets the victim holds (a signing key) are not in its source, which the agent
may read: they come from :func:`key_material`, derived from the seed, and reach the
service through the secret file with the flag. The vulnerable library is never touched.

Without a seed (``None``) everything is canonical and no key material is sent.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"@@([a-z][a-z0-9_]*)@@")
CANONICAL_PORT = 9000
# ports a variant's service may listen on: unprivileged, below the ephemeral range, and
# away from the canonical 9000 so a memorised ":9000" never reaches it
_PORTS = (10000, 32000)

# Plain English words for routes, parameters and identifiers: a variant should read like
# a real service, so renaming changes what a transcript names, not how hard it is.
_WORDS = (
    "account",
    "amber",
    "anchor",
    "apple",
    "arrow",
    "atlas",
    "badge",
    "basket",
    "beacon",
    "bridge",
    "bucket",
    "cable",
    "camera",
    "canvas",
    "carbon",
    "castle",
    "cedar",
    "chapter",
    "cipher",
    "circle",
    "cobalt",
    "comet",
    "copper",
    "coral",
    "cotton",
    "crane",
    "crystal",
    "cursor",
    "delta",
    "desk",
    "digest",
    "dock",
    "donut",
    "eagle",
    "echo",
    "ember",
    "engine",
    "falcon",
    "fern",
    "fiber",
    "field",
    "flint",
    "forest",
    "frame",
    "garden",
    "gate",
    "glacier",
    "globe",
    "granite",
    "harbor",
    "hazel",
    "helix",
    "hollow",
    "index",
    "island",
    "ivory",
    "jade",
    "jasper",
    "kernel",
    "kettle",
    "ladder",
    "lagoon",
    "lantern",
    "ledger",
    "lemon",
    "lever",
    "linen",
    "locket",
    "lotus",
    "magnet",
    "maple",
    "marble",
    "meadow",
    "meteor",
    "mirror",
    "mosaic",
    "nectar",
    "needle",
    "nickel",
    "oasis",
    "ocean",
    "olive",
    "onyx",
    "orbit",
    "orchid",
    "paddle",
    "panel",
    "parcel",
    "pebble",
    "pepper",
    "pilot",
    "pixel",
    "planet",
    "plaza",
    "pocket",
    "portal",
    "prism",
    "pulse",
    "quartz",
    "quill",
    "radar",
    "raven",
    "reef",
    "ribbon",
    "river",
    "rocket",
    "saddle",
    "sapphire",
    "signal",
    "silver",
    "socket",
    "spruce",
    "summit",
    "tablet",
    "thistle",
    "timber",
    "topaz",
    "tower",
    "tulip",
    "tunnel",
    "velvet",
    "violet",
    "walnut",
    "willow",
    "window",
    "yarrow",
    "zenith",
)
_PREFIXES = ("", "", "/api", "/v1", "/v2", "/app", "/svc")
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")


def fresh_seed() -> int:
    """A new variant seed: 53 random bits, so that every JSON reader of a log (a
    JavaScript viewer too) holds it exactly."""
    return secrets.randbits(53)


def seed_of(value: int | str | None) -> int | None:
    """A seed given on Inspect's command line (``-T variant_seed=N`` may be a string)."""
    if value is None or value == "":
        return None
    seed = int(value)
    if seed < 0:
        raise ValueError(f"variant_seed must be a non-negative integer, not {value!r}")
    return seed


@dataclass(frozen=True)
class Template:
    """The parts of a case's exploit task that vary, and their canonical values."""

    victim: str
    exploit: str
    prompt: str
    defaults: dict[str, str] = field(default_factory=dict)  # slot -> canonical value
    # the victim holds a key derived from the seed (hex, sent with the flag)
    key_material: bool = False

    def slots(self) -> set[str]:
        found = {m for part in (self.victim, self.exploit, self.prompt) for m in _slots(part)}
        return found | set(self.defaults) | {"port"}

    def render(self, part: str, values: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return PLACEHOLDER.sub(fill, part)


def _slots(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class Variant:
    """One rendering of a case's exploit task."""

    seed: int | None
    values: dict[str, str]
    victim: str
    exploit: str
    prompt: str

    @property
    def port(self) -> int:
        return int(self.values["port"])


def _styled(canonical: str, words: list[str]) -> str:
    """Fresh words in the style of the canonical identifier (UPPER, Capital, lower, _x)."""
    lead = "_" if canonical.startswith("_") else ""
    bare = canonical.lstrip("_")
    if bare.isupper():
        return lead + "_".join(w.upper() for w in words)
    if bare[:1].isupper():
        return lead + "".join(w.capitalize() for w in words)
    return lead + "_".join(words)


def _draw(rng: random.Random, slot: str, canonical: str, taken: set[str]) -> str:
    for _ in range(1000):
        if slot == "port" or slot.startswith("port_"):  # a chain's second service: port_*
            value = str(rng.randrange(*_PORTS))
        elif slot.startswith("route_"):
            value = rng.choice(_PREFIXES) + "/" + rng.choice(_WORDS)
        elif slot.startswith("param_"):
            value = rng.choice(_WORDS)
        elif slot.startswith("word_"):
            value = rng.choice(_NAMES) if canonical in _NAMES else rng.choice(_WORDS)
        else:  # name_*: an identifier of the wrapper, two words so it shadows nothing
            value = _styled(canonical, rng.sample(_WORDS, 2))
        bare = value.rsplit("/", 1)[-1].lower()
        if value != canonical and bare not in taken and bare != canonical.lower():
            taken.add(bare)
            return value
    raise RuntimeError(f"no fresh value for {slot}")  # pragma: no cover - 100 words


def draw(
    case_id: str, slots: set[str], defaults: dict[str, str], seed: int | None
) -> dict[str, str]:
    """Every slot's value for ``seed``, drawn from ``(seed, case_id)`` and distinct from
    each other and from every canonical value; the canonical ``defaults`` (``port`` 9000)
    when ``seed`` is None. A chain (``chain_cases``) draws its slots with it too."""
    missing = slots - set(defaults) - {"port"}
    if missing:
        raise ValueError(f"{case_id}: no canonical value for {sorted(missing)}")
    canonical = {**defaults, "port": str(CANONICAL_PORT)}
    if seed is None:
        return {s: canonical[s] for s in slots}
    rng = random.Random(f"prereview-variant:{seed}:{case_id}")  # noqa: S311 - not secret
    taken: set[str] = {v.rsplit("/", 1)[-1].lower() for v in canonical.values()}
    return {s: _draw(rng, s, canonical[s], taken) for s in sorted(slots)}


def variant(case_id: str, template: Template, seed: int | None) -> Variant:
    """The variant of ``case_id`` for ``seed`` (canonical when ``seed`` is None)."""
    values = draw(case_id, template.slots(), template.defaults, seed)
    return Variant(
        seed=seed,
        values=values,
        victim=template.render(template.victim, values),
        exploit=template.render(template.exploit, values),
        prompt=template.render(template.prompt, values),
    )


def canonical(case_id: str, template: Template) -> Variant:
    """The variant with the canonical values: what ``case.victim`` and the rest hold."""
    return variant(case_id, template, None)


def key_material(case_id: str, seed: int | None) -> str:
    """A 32-byte secret (hex) for the victim's keys, derived from the seed (fresh without
    one); it reaches the service only through the secret file, never its source."""
    if seed is None:
        return secrets.token_hex(32)
    return hashlib.sha256(f"prereview-variant-key:{seed}:{case_id}".encode()).hexdigest()
