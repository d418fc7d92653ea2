"""Identity's commands: the platform operator's on the server (deactivating people, inviting
an organisation's first person) and inviting and redeeming from the command line."""

from __future__ import annotations

import json

from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from support.factories import Platform
from support.factories.identity import admit, me_status, new_member, operator_env, redeem
from support.live import serve


def test_the_operator_deactivates_on_the_server(platform: Platform) -> None:
    user_id, token = new_member(platform, "agency")
    env = operator_env(platform)
    runner = CliRunner()
    done = runner.invoke(cli, ["admin", "deactivate", user_id], env=env)
    assert done.exit_code == 0, done.output
    assert "deactivated" in done.output
    assert me_status(platform, token) == (401, "urn:prereview:problem:user-deactivated")
    missing = runner.invoke(cli, ["admin", "deactivate", "usr_nobody"], env=env)
    assert missing.exit_code == 1 and "no user" in missing.output
    assert runner.invoke(cli, ["admin", "reactivate", user_id], env=env).exit_code == 0
    assert me_status(platform, token)[0] == 200


def test_the_operator_invites_from_the_server(platform: Platform) -> None:
    org_id = admit(platform, "Server Lab")
    env = operator_env(platform)
    done = CliRunner().invoke(
        cli, ["admin", "invite", org_id, "--email", "boss@server.example"], env=env
    )
    assert done.exit_code == 0, done.output
    secret = done.output.strip().splitlines()[-1]
    assert secret.startswith("pri_")
    # The CLI clock is the real one; the test app's is fixed months earlier, so still valid.
    assert redeem(platform, secret, 201)["user"]["email"] == "boss@server.example"


def test_invite_and_redeem_from_the_command_line(platform: Platform, app: FastAPI) -> None:
    def run(token: str, *args: str, **extra: str) -> str:
        env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": "200"} | extra
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    with serve(app) as server:
        operator = platform["clearinghouse"].token
        org = json.loads(run(operator, "org", "create", "CLI Lab", "--kind", "developer", "--json"))
        invited = run(operator, "org", "invite", org["id"], "--email", "lead@cli.example")
        secret = invited.strip().splitlines()[-1]
        assert secret.startswith("pri_")
        # The secret comes from the environment, never from the command line; no token needed.
        welcome = run("", "invitation", "redeem", "--name", "Lead", PREREVIEW_INVITATION=secret)
        assert "admin of CLI Lab" in welcome
        token = welcome.strip().splitlines()[-1]
        assert "lead@cli.example" in run(token, "whoami")
        spent = CliRunner().invoke(
            cli,
            ["invitation", "redeem", "--name", "Again"],
            env={"PREREVIEW_SERVER": server, "PREREVIEW_INVITATION": secret},
        )
        assert spent.exit_code == 1 and "invitation-gone" in spent.output
