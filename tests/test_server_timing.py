"""Every response says how long the portal took (``Server-Timing``), the server time figure 5 reports."""
from portal import server_timing


def _duration(resp):
    ms = server_timing.parse(resp.headers.get("Server-Timing"))
    assert ms is not None, f"no Server-Timing app duration on {resp.status_code}: {resp.headers}"
    return ms


def test_pages_redirects_not_found_and_static_files_carry_their_server_time(client):
    for path, status in (("/signin", 200), ("/calendars/", 302), ("/no-such-page", 404), ("/static/htmx.min.js", 200)):
        resp = client.get(path)
        assert resp.status_code == status
        assert 0 <= _duration(resp) < 60_000


def test_the_server_time_covers_the_request_handlers(app, client):
    import time

    @app.before_request
    def slow():  # registered after the timer: inside what it measures
        time.sleep(0.05)

    assert _duration(client.get("/signin")) >= 50


def test_the_header_parser_reads_the_app_metric_among_others():
    assert server_timing.parse('db;dur=2, app;desc="Calbridge";dur=12.5') == 12.5
    assert server_timing.parse("db;dur=2") is None
    assert server_timing.parse(None) is None
