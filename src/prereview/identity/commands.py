"""Command line of identity: bootstrap, organisations, users, tokens."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    YesOption,
    confirm,
    console,
    escape,
    field,
    show,
)

if TYPE_CHECKING:
    from prereview.core.context import AppContext
    from prereview.identity import invitations

# The commands run on the server machine import the database and identity's use cases inside
# their bodies, so that `prereview --help` and the commands over the API do not load them.

admin = typer.Typer(
    help="Platform administration, run on the server machine.", no_args_is_help=True
)
orgs = typer.Typer(help="Organisations.", no_args_is_help=True)
users = typer.Typer(help="People in an organisation.", no_args_is_help=True)
tokens = typer.Typer(help="Your API tokens.", no_args_is_help=True)
invites = typer.Typer(help="One-time invitations to join an organisation.", no_args_is_help=True)

ORG_COLUMNS = [
    ("id", field("id")),
    ("name", field("name")),
    ("kind", field("kind")),
    ("sector", field("sector")),
]
TOKEN_COLUMNS = [
    ("id", field("id")),
    ("name", field("name")),
    ("prefix", field("display_prefix")),
    ("expires", field("expires_at")),
    ("revoked", field("revoked_at")),
    ("last used", field("last_used_at")),
]


@admin.command("bootstrap")
def bootstrap(
    org: Annotated[str, typer.Option(help="Name of the first organisation.")],
    email: Annotated[str, typer.Option(help="Email of its administrator.")],
    name: Annotated[str, typer.Option(help="Name of its administrator.")] = "Administrator",
    kind: Annotated[
        OrgKind, typer.Option(help="Kind of the first organisation.")
    ] = OrgKind.CLEARINGHOUSE,
) -> None:
    """Create the first organisation, its administrator and a token, on an empty platform."""
    from prereview.core.context import AppContext
    from prereview.core.db import transaction
    from prereview.core.errors import PrereviewError
    from prereview.core.migrate import check_migrated
    from prereview.core.settings import load_settings
    from prereview.identity import service
    from prereview.identity.schemas import OrganisationCreate, UserCreate

    settings = load_settings()
    context = AppContext.create(settings)
    try:
        check_migrated(context.engine)
        now = context.clock.now()
        with transaction(context.sessions) as db:
            organisation, user, issued = service.bootstrap(
                db,
                OrganisationCreate(name=org, kind=kind),
                UserCreate(email=email, name=name, role=Role.ADMIN),
                now,
                timedelta(days=settings.token_ttl_days),
            )
    except PrereviewError as exc:
        console.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    finally:
        context.engine.dispose()
    console.print(
        f"Created {organisation.kind.value} '{organisation.name}' ({organisation.id})", markup=False
    )
    console.print(f"Administrator {user.email} ({user.id})", markup=False)
    console.print("API token (shown once, keep it safe):")
    print(issued.plaintext)


def _server_side(work: Callable[[AppContext], None]) -> None:
    """Run ``work`` against the server's own database, printing an error a person can act on."""
    from prereview.core.context import AppContext
    from prereview.core.errors import PrereviewError
    from prereview.core.migrate import check_migrated
    from prereview.core.settings import load_settings

    context = AppContext.create(load_settings())
    try:
        check_migrated(context.engine)
        work(context)
    except PrereviewError as exc:
        console.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    finally:
        context.engine.dispose()


@admin.command("invite")
def admin_invite(
    org_id: Annotated[str, typer.Argument(help="The organisation's id.")],
    email: Annotated[str, typer.Option(help="Email of the person invited.")],
    role: Annotated[Role, typer.Option(help="Role of the new account.")] = Role.ADMIN,
) -> None:
    """Invite a person (usually the first administrator) into an organisation, on the server."""
    from prereview.core.db import transaction
    from prereview.identity import invitations
    from prereview.identity.schemas import InvitationCreate

    found: list[invitations.IssuedInvitation] = []

    def work(context: AppContext) -> None:
        ttl = timedelta(days=context.settings.invitation_ttl_days)
        data = InvitationCreate(email=email, role=role)
        with transaction(context.sessions) as db:
            found.append(
                invitations.create_invitation_by_operator(
                    db, org_id, data, context.clock.now(), ttl
                )
            )

    _server_side(work)
    issued = found[0]
    console.print(
        f"Invitation {issued.invitation.id} for {issued.invitation.email} "
        f"({issued.invitation.role.value}), expires {issued.invitation.expires_at.isoformat()}.",
        markup=False,
    )
    console.print("Secret (shown once; give it to the person by a channel you trust):")
    print(issued.secret)


def _operator_switch(user_id: str, active: bool) -> None:
    from prereview.core.db import transaction
    from prereview.identity import service

    def work(context: AppContext) -> None:
        with transaction(context.sessions) as db:
            user = service.set_user_active_by_operator(db, user_id, active, context.clock.now())
            state = "active" if active else "deactivated"
            console.print(f"{user.email} ({user.id}) is {state}", markup=False)

    _server_side(work)


@admin.command("deactivate")
def admin_deactivate(user_id: str) -> None:
    """Deactivate any account at once (its tokens and sessions stop working), on the server."""
    _operator_switch(user_id, False)


@admin.command("reactivate")
def admin_reactivate(user_id: str) -> None:
    """Reactivate an account, on the server."""
    _operator_switch(user_id, True)


@orgs.command("create")
def org_create(
    name: str,
    kind: Annotated[
        OrgKind, typer.Option(help="developer, agency, trusted_partner or clearinghouse.")
    ],
    sector: Annotated[
        Sector | None, typer.Option(help="Critical-infrastructure sector (partners).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Admit an organisation (clearinghouse administrators)."""
    body = {"name": name, "kind": kind.value, "sector": sector.value if sector else None}
    show(ApiClient(server).post("/organisations", body), as_json)


@orgs.command("list")
def org_list(
    kind: Annotated[OrgKind | None, typer.Option(help="Only this kind.")] = None,
    limit: int = 50,
    offset: int = 0,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List organisations."""
    data = ApiClient(server).get(
        "/organisations", kind=kind.value if kind else None, limit=limit, offset=offset
    )
    show(data, as_json, ORG_COLUMNS)


@users.command("create")
def user_create(
    org_id: str,
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.MEMBER,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Add a person to your organisation (administrators)."""
    body = {"email": email, "name": name, "role": role.value}
    show(ApiClient(server).post(f"/organisations/{org_id}/users", body), as_json)


@orgs.command("invite")
def org_invite(
    org_id: str,
    email: Annotated[str, typer.Option(help="Email of the person invited.")],
    role: Annotated[Role, typer.Option(help="Role of the new account.")] = Role.ADMIN,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Invite a person into an organisation: its first administrator (the clearinghouse), or
    one more person (the organisation's administrators). The secret is printed once."""
    data = ApiClient(server).post(
        f"/organisations/{org_id}/invitations", {"email": email, "role": role.value}
    )
    if as_json:
        show(data, True)
        return
    console.print(
        f"Invitation {data['id']} for {data['email']} ({data['role']}), "
        f"expires {data['expires_at']}. Secret (shown once):",
        markup=False,
    )
    print(data["secret"])


@invites.command("redeem")
def invitation_redeem(
    name: Annotated[str, typer.Option(help="Your name, as others will see it.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Redeem an invitation: creates your account and prints its first API token once.

    The secret is read from PREREVIEW_INVITATION, or asked for without echo, never from the
    command line (where the process list and shell history would keep it)."""
    secret = os.environ.get("PREREVIEW_INVITATION") or typer.prompt(
        "Invitation secret", hide_input=True
    )
    data = ApiClient(server, token="").post(
        "/invitations/redeem", {"secret": secret.strip(), "name": name}
    )
    if as_json:
        show(data, True)
        return
    user, org, token = data["user"], data["organisation"], data["token"]
    console.print(
        f"Welcome, {user['name']} <{user['email']}>, {user['role']} of {org['name']}.", markup=False
    )
    console.print(
        f"API token {token['id']}, expires {token['expires_at']} (shown once):", markup=False
    )
    print(token["token"])


@users.command("deactivate")
def user_deactivate(
    user_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """Deactivate a person of your organisation: their tokens and sessions stop at once."""
    show(ApiClient(server).post(f"/users/{user_id}/deactivate"), as_json)


@users.command("reactivate")
def user_reactivate(
    user_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """Reactivate a person of your organisation."""
    show(ApiClient(server).post(f"/users/{user_id}/reactivate"), as_json)


@users.command("list")
def user_list(
    org_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """List the people of your organisation."""
    show(ApiClient(server).get(f"/organisations/{org_id}/users"), as_json)


@tokens.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A label to tell it apart.")] = "cli",
    ttl_days: Annotated[int | None, typer.Option(help="Lifetime in days.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Create a token for yourself; it is printed once."""
    data = ApiClient(server).post("/tokens", {"name": name, "ttl_days": ttl_days})
    if as_json:
        show(data, True)
        return
    console.print(
        f"Token {data['id']} '{data['name']}', expires {data['expires_at']}:", markup=False
    )
    print(data["token"])


@tokens.command("list")
def token_list(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """Your tokens, with when each was last used."""
    show(ApiClient(server).get("/tokens"), as_json, TOKEN_COLUMNS)


@tokens.command("revoke")
def token_revoke(
    token_id: str,
    yes: YesOption = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token at once (asks first; --yes skips)."""
    confirm(
        f"Revoking token {escape(token_id)} refuses every request made with it from now on; "
        "it cannot be used again.",
        yes,
    )
    show(ApiClient(server).post(f"/tokens/{token_id}/revoke"), as_json)


def whoami(server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """Who the token in PREREVIEW_TOKEN belongs to."""
    data = ApiClient(server).get("/me")
    if as_json:
        show(data, True)
        return
    user, org = data["user"], data["organisation"]
    console.print(
        f"{user['name']} <{user['email']}>, {user['role']} of {org['name']} ({org['kind']})",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(admin, name="admin")
    app.add_typer(orgs, name="org")
    app.add_typer(users, name="user")
    app.add_typer(tokens, name="token")
    app.add_typer(invites, name="invitation")
    app.command("whoami")(whoami)
