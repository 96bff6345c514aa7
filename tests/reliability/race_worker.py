"""One contender of the token race (run as its own process by ``test_token_race``).

``python race_worker.py <connection id> <start at (unix time)>``: builds the
app from the environment like an RQ worker does, loads the connection, waits
for the common start time and calls Calendly with the token it holds.
Prints one JSON line: ``{"ok": true, "uri": ...}`` or ``{"ok": false, "error": ...}``.
"""
import json
import sys
import time

from jobs.context import get_app
from portal.calendly.client import CalendlyClient
from portal.extensions import db
from portal.models import CalendlyConnection


def main(connection_id, start_at):
    app = get_app()
    with app.app_context():
        db.connect(reuse_if_open=True)
        connection = CalendlyConnection.get_by_id(connection_id)
        time.sleep(max(0.0, start_at - time.time()))
        try:
            result = {"ok": True, "uri": CalendlyClient(connection).me()["uri"]}
        except Exception as exc:  # noqa: BLE001 - the test reports it
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
