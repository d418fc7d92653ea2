"""Command line of the gateway: the developer's upstream, gateway keys, limits, transcripts.

Secrets never go on the command line (where a process list or shell history would keep them):
the upstream's API key, its base URL and other credential headers are read from environment
variables named by the options, or asked for without echo.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    YesOption,
    confirm,
    escape,
    field,
    organisation,
    show,
)

upstream_app = typer.Typer(help="The model's endpoint behind the gateway.", no_args_is_help=True)
key_app = typer.Typer(help="Gateway keys of your organisation.", no_args_is_help=True)
limits_app = typer.Typer(help="Per-grant limits (the developer).", no_args_is_help=True)
transcript_app = typer.Typer(help="Kept prompts and completions.", no_args_is_help=True)
gateway_app = typer.Typer(
    help="Model access through the gateway: /gateway/v1 speaks the OpenAI API.",
    no_args_is_help=True,
)
gateway_app.add_typer(upstream_app, name="upstream")
gateway_app.add_typer(key_app, name="key")
gateway_app.add_typer(limits_app, name="limits")
gateway_app.add_typer(transcript_app, name="transcript")

KEY_COLUMNS = [
    ("id", field("id")),
    ("name", field("name")),
    ("organisation", organisation("org_id")),
    ("access", field("access")),
    ("prefix", field("prefix")),
    ("created", field("created_at")),
    ("revoked", field("revoked_at")),
]
LIMIT_COLUMNS = [
    ("access", field("access_id")),
    ("requests/min", field("requests_per_minute")),
    ("tokens/day", field("tokens_per_day")),
    ("streams", field("concurrent_streams")),
    ("updated", field("updated_at")),
]
TRANSCRIPT_COLUMNS = [
    ("call", field("call_id")),
    ("organisation", organisation("org_id")),
    ("endpoint", field("endpoint")),
    ("started", field("started_at")),
    ("request bytes", field("request_size")),
    ("response bytes", field("response_size")),
]


def _secret(env_name: str, prompt: str) -> str:
    value = os.environ.get(env_name)
    if value:
        return value
    answer: str = typer.prompt(prompt, hide_input=True)
    return answer


@upstream_app.command("set")
def upstream_set(
    submission_id: str,
    upstream_model: Annotated[str, typer.Option(help="The model name your endpoint expects.")],
    public_model: Annotated[
        str | None,
        typer.Option(
            help="The name reviewers use (default: the submission's model name, spaces as '-'; "
            "never the upstream's internal name)."
        ),
    ] = None,
    base_url_env: Annotated[
        str, typer.Option(help="Environment variable holding the OpenAI base URL (…/v1).")
    ] = "PREREVIEW_UPSTREAM_BASE_URL",
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key (sent as Bearer).")
    ] = "PREREVIEW_UPSTREAM_API_KEY",
    no_api_key: Annotated[bool, typer.Option(help="Send no Authorization header.")] = False,
    header: Annotated[
        list[str] | None,
        typer.Option(help="NAME=ENV_VAR: send header NAME with the value of ENV_VAR; repeat."),
    ] = None,
    keep_transcripts: Annotated[
        bool, typer.Option(help="Keep prompts and completions, encrypted in the vault.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Register your endpoint for a submission; URL and credentials are sealed in the vault."""
    headers: dict[str, str] = {}
    for item in header or []:
        name, sep, env_name = item.partition("=")
        if not sep or not name or not env_name:
            raise typer.BadParameter(f"'{item}' is not NAME=ENV_VAR")
        value = os.environ.get(env_name)
        if not value:
            raise typer.BadParameter(f"the environment variable {env_name} is not set")
        headers[name] = value
    body: dict[str, Any] = {
        "base_url": _secret(base_url_env, "Base URL of your endpoint"),
        "upstream_model": upstream_model,
        "public_model": public_model,
        "headers": headers,
        "keep_transcripts": keep_transcripts,
    }
    if not no_api_key:
        body["api_key"] = _secret(api_key_env, "API key of your endpoint")
    answer = ApiClient(server).request(
        "PUT", f"/submissions/{submission_id}/gateway/upstream", json=body
    )
    show(answer, as_json)


@upstream_app.command("show")
def upstream_show(
    submission_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """What is registered (the models and the header names; never the URL or a secret)."""
    show(ApiClient(server).get(f"/submissions/{submission_id}/gateway/upstream"), as_json)


@key_app.command("create")
def key_create(
    submission_id: str,
    name: Annotated[str, typer.Option(help="What the key is for.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Make a gateway key for your organisation's live access; it is shown this once."""
    show(
        ApiClient(server).post(f"/submissions/{submission_id}/gateway/keys", {"name": name}),
        as_json,
    )


@key_app.command("list")
def key_list(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Keys on a submission (the developer sees every organisation's)."""
    client = ApiClient(server)
    data = client.get(f"/submissions/{submission_id}/gateway/keys", limit=limit, offset=offset)
    show(data, as_json, KEY_COLUMNS, names=client)


@key_app.command("revoke")
def key_revoke(
    submission_id: str,
    key_id: str,
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: its next call is refused and its open streams end (asks first; --yes
    skips)."""
    confirm(
        f"Revoking gateway key {escape(key_id)} refuses its next call and ends its open "
        "streams now; it cannot be used again.",
        yes,
    )
    show(
        ApiClient(server).post(f"/submissions/{submission_id}/gateway/keys/{key_id}/revoke"),
        as_json,
    )


@limits_app.command("set")
def limits_set(
    submission_id: str,
    grant: Annotated[str | None, typer.Option(help="An agency's grant id.")] = None,
    nomination: Annotated[str | None, typer.Option(help="A partner's nomination id.")] = None,
    requests_per_minute: Annotated[int | None, typer.Option("--rpm")] = None,
    tokens_per_day: Annotated[int | None, typer.Option()] = None,
    concurrent_streams: Annotated[
        int | None, typer.Option("--streams", help="Calls in flight at once, streaming or not.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Set the limits of one grant or nomination; a limit left out is lifted."""
    if (grant is None) == (nomination is None):
        raise typer.BadParameter("give exactly one of --grant and --nomination")
    target = f"grants/{grant}" if grant else f"nominations/{nomination}"
    body = {
        "requests_per_minute": requests_per_minute,
        "tokens_per_day": tokens_per_day,
        "concurrent_streams": concurrent_streams,
    }
    answer = ApiClient(server).request(
        "PUT", f"/submissions/{submission_id}/{target}/limits", json=body
    )
    show(answer, as_json)


@limits_app.command("show")
def limits_show(
    submission_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """The limits in force on a submission."""
    data = ApiClient(server).get(f"/submissions/{submission_id}/gateway/limits")
    show(data, as_json, LIMIT_COLUMNS)


@transcript_app.command("list")
def transcript_list(
    submission_id: str,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Kept transcripts (where the developer keeps them)."""
    client = ApiClient(server)
    path = f"/submissions/{submission_id}/gateway/transcripts"
    data = client.get(path, limit=limit, offset=offset)
    show(data, as_json, TRANSCRIPT_COLUMNS, names=client)


@transcript_app.command("show")
def transcript_show(
    submission_id: str,
    call_id: str,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """One transcript, decrypted (the read is audited)."""
    data = ApiClient(server).get(f"/submissions/{submission_id}/gateway/transcripts/{call_id}")
    show(data, as_json)


@gateway_app.command(
    "sim", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def sim(ctx: typer.Context) -> None:
    """Serve the OpenAI-compatible upstream simulator (try: --port 8001 --api-key sk-sim)."""
    from prereview.gateway.testing.upstream_sim import main

    main(list(ctx.args))


def register(app: typer.Typer) -> None:
    app.add_typer(gateway_app, name="gateway")
