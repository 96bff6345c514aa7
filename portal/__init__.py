"""Calbridge: a CRM portal with a one-way Calendly integration."""
import os

from flask import Flask

from portal import canonical_host, config, crypto, database, params, security, server_timing, session_size
from portal.extensions import csrf, htmx, login_manager, oauth

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """Build the portal. ``test_config`` overrides the environment."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("CALBRIDGE_INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance"),
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
    )
    if test_config and test_config.get("INSTANCE_PATH"):
        app.instance_path = test_config["INSTANCE_PATH"]
    config.load(app, test_config)
    server_timing.init_app(app)
    app.url_map.converters["int"] = params.DatabaseIdConverter  # every <int:…> in our URLs is a database id
    security.init_app(app)
    canonical_host.init_app(app)
    session_size.init_app(app)
    crypto.configure(app.config["ENCRYPTION_KEY"])
    # Under the flask CLI the admin group checks the schema itself, so that
    # `admin migrate` can run on a database that is not current yet.
    database.init_app(app, check_schema=os.environ.get("FLASK_RUN_FROM_CLI") != "true")

    login_manager.init_app(app)
    login_manager.login_view = "auth.signin"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    htmx.init_app(app)
    oauth.init_app(app)

    from portal import connection_status, live, localtime, tenancy, words
    from portal.auth import bp as auth_bp
    from portal.main import bp as main_bp

    from portal.appointments import bp as appointments_bp
    from portal.connections import bp as connections_bp
    from portal.contacts import bp as contacts_bp
    from portal.emails import bp as emails_bp
    from portal.support import bp as support_bp
    from portal.agency import bp as agency_bp
    from portal.profile import bp as profile_bp
    from portal.team import bp as team_bp
    from portal.webhooks import bp as webhooks_bp
    from portal.workflows import bp as workflows_bp
    from portal.tasks import bp as tasks_bp

    tenancy.init_app(app)
    localtime.init_app(app)
    words.init_app(app)
    connection_status.init_app(app)
    live.init_app(app)
    for bp in (auth_bp, main_bp, connections_bp, appointments_bp, contacts_bp, emails_bp, support_bp, webhooks_bp,
               workflows_bp, tasks_bp, team_bp, agency_bp, profile_bp):
        app.register_blueprint(bp)

    from portal.cli import admin_cli

    app.cli.add_command(admin_cli)
    return app

