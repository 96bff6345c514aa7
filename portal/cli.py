"""``flask --app wsgi admin ...`` (a contract used outside the project: keep it exactly)."""
import click
from flask.cli import AppGroup
from peewee import SqliteDatabase

from portal import migrations, passwords
from portal.extensions import db
from portal.models import ROLES, Membership, Subaccount, User


def _require_current_schema():
    """Every admin command but ``migrate`` needs the schema current (create_app leaves this to the CLI)."""
    if click.get_current_context().invoked_subcommand != "migrate":
        try:
            migrations.require_current(db.obj)
        except migrations.SchemaNotCurrent as exc:
            raise click.ClickException(str(exc)) from None


admin_cli = AppGroup("admin", help="Create subaccounts, users, support staff and agency admins; migrate the database.",
                     callback=_require_current_schema)


@admin_cli.command("migrate")
def migrate():
    """Apply the pending database migrations (does nothing if there are none)."""
    applied = migrations.migrate(db.obj)
    for step in applied:
        click.echo(f"Applied migration {step.label}")
    current = f"schema is current (migration {migrations.MIGRATIONS[-1].number})."
    click.echo(current.capitalize() if applied else f"Nothing to apply: {current}")


def _writing():
    """A transaction that takes SQLite's write lock first, waiting for it (busy_timeout) while the stack writes.

    A plain (deferred) transaction that reads and then writes fails at once with
    "database is locked" when another process wrote in between; PostgreSQL needs nothing.
    """
    return db.atomic("IMMEDIATE") if isinstance(db.obj, SqliteDatabase) else db.atomic()


def _set_password(user, password):
    """The password policy (T3) for a new account; a weak password stops the command with the reason."""
    refused = passwords.problem(password, user_inputs=[user.email, user.name, *user.email.split("@")])
    if refused:
        raise click.ClickException(f"Password refused: {refused}")
    user.set_password(password)


@admin_cli.command("create-subaccount")
@click.argument("name")
def create_subaccount(name):
    """Create a subaccount called NAME (does nothing if it exists)."""
    with db.connection_context(), _writing():
        sub, created = Subaccount.get_or_create(name=name)
    click.echo(f"{'Created' if created else 'Exists'}: subaccount {sub.name} (id {sub.id})")


@admin_cli.command("create-user")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--subaccount", "subaccount_name", required=True)
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True)
@click.option("--name", default="")
def create_user(email, password, subaccount_name, role, name):
    """Create a user, or add the membership if the user exists."""
    email = email.strip().lower()
    with db.connection_context(), _writing():
        sub = Subaccount.get_or_none(Subaccount.name == subaccount_name)
        if sub is None:
            raise click.ClickException(f"No subaccount called {subaccount_name!r}.")
        user = User.get_or_none(User.email == email)
        if user is None:
            user = User(email=email, name=name)
            _set_password(user, password)
            user.save()
            click.echo(f"Created user {email}")
        membership, created = Membership.get_or_create(user=user, subaccount=sub, defaults={"role": role})
        if not created and membership.role != role:
            membership.role = role
            membership.save()
    click.echo(f"{email} is {role} of {sub.name}")


def _agency_user(email, password, name, flag):
    """Create an agency-level user, or give an existing user ``flag`` (``is_support``, ``is_agency_admin``)."""
    email = email.strip().lower()
    with db.connection_context(), _writing():
        user = User.get_or_none(User.email == email)
        if user is None:
            user = User(email=email, name=name)
            _set_password(user, password)
        setattr(user, flag, True)
        user.save()
    return email


@admin_cli.command("create-support")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--name", default="")
def create_support(email, password, name):
    """Create a support-staff user (or make an existing user support staff)."""
    click.echo(f"{_agency_user(email, password, name, 'is_support')} is support staff")


@admin_cli.command("create-agency-admin")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--name", default="")
def create_agency_admin(email, password, name):
    """Create an agency admin (or make an existing user one): they create and name subaccounts."""
    click.echo(f"{_agency_user(email, password, name, 'is_agency_admin')} is an agency admin")


@admin_cli.command("seed-demo")
def seed_demo():
    """Create the demo subaccounts, users and contacts (idempotent)."""
    from portal import demo

    with db.connection_context(), _writing():
        demo.seed()
    click.echo(f"Demo data ready ({len(demo.DEMO_USERS)} users).")
