"""`prereview vault retire` deletes a master key for good, so it asks first: without a terminal
it needs --yes, and a retirement the keyring would refuse is explained, not asked about."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prereview.cli import app as cli
from prereview.vault.keyring import LocalKeyProvider
from support.factories import Platform
from support.factories.identity import operator_env


def _keys(platform: Platform) -> tuple[str, ...]:
    return LocalKeyProvider.generate(platform.context.settings.master_key_file).key_ids


def test_retiring_a_master_key_needs_yes_and_says_what_is_lost(platform: Platform) -> None:
    env = operator_env(platform)
    runner = CliRunner()
    assert runner.invoke(cli, ["vault", "rotate-master-key"], env=env).exit_code == 0
    old, current = _keys(platform)

    refused = runner.invoke(cli, ["vault", "retire", old], env=env)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2, refused.output
    assert "--yes" in said and "never be unwrapped" in said
    assert _keys(platform) == (old, current)  # nothing done

    done = runner.invoke(cli, ["vault", "retire", old, "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert _keys(platform) == (current,)


@pytest.mark.parametrize("which", ["current", "unknown"])
def test_a_refused_retirement_is_explained_without_a_question(
    platform: Platform, which: str
) -> None:
    env = operator_env(platform)
    key = _keys(platform)[0] if which == "current" else "mk-nothing-here"
    refused = CliRunner().invoke(cli, ["vault", "retire", key], env=env)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert "--yes" not in said
    assert ("rotate before retiring" if which == "current" else "no master key") in said
