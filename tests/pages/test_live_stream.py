"""The live stream (portal/live_stream.py), through the app: who may open one, what it sends and when,
and how the page learns where it is. The live process itself (gevent, many streams) is in
test_live_process.py; a browser on it in test_live_stream_e2e.py."""
import json
import re
from urllib.parse import quote

import pytest
from redis import Redis

from portal import live, live_stream
from portal.extensions import db
from portal.models import Membership, Subaccount

STREAM_URL = "http://127.0.0.1:59999/live/stream"


@pytest.fixture
def streaming(app, monkeypatch):
    """This app serves streams (as the live process does) and names them on its pages."""
    monkeypatch.setitem(app.config, "LIVE_STREAM_SERVER", True)
    monkeypatch.setitem(app.config, "LIVE_STREAM_URL", STREAM_URL)
    monkeypatch.setattr(live_stream, "KEEPALIVE_SECONDS", 0.3)
    monkeypatch.setattr(live_stream, "GAP_SECONDS", 0.05)
    monkeypatch.setattr(live_stream.hub, "versions", {})  # each test's Redis starts its counters again
    monkeypatch.setattr(live_stream, "_drawn", {})  # and no list is drawn yet
    return app


def _stream_path(html):
    url = re.search(r'data-live-stream="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert url.startswith(STREAM_URL)
    return url[len("http://127.0.0.1:59999"):]


def _drawn_at(html):
    return re.search(r'data-live-version="([^"]*)"', html).group(1)


def _list_url(html):
    return re.search(r'data-live-list="([^"]+)"', html).group(1).replace("&amp;", "&")


def _events(response, wanted, limit=40):
    """The first ``wanted`` events of a streamed response as (name, data), reading at most ``limit`` chunks."""
    found, chunks = [], iter(response.response)
    for _ in range(limit):
        text = next(chunks).decode()
        fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line
                      and not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], fields.get("data", "")))
            if len(found) == wanted:
                return found
    raise AssertionError(f"only {found} in {limit} chunks")


def _make_appointment(client, title):
    made = client.post("/calendars/appointments/new", data={
        "title": title, "start": "2031-03-04T10:00", "end": "2031-03-04T10:30",
        "contact_email": "pat@example.com", "contact_name": "Pat"})
    assert made.status_code in (302, 303)


def test_a_calendars_page_names_its_stream_and_its_csp_lets_it_connect(streaming, client, signed_in):
    page = client.get("/calendars/?when=all")
    html = page.get_data(as_text=True)
    assert _stream_path(html).startswith("/live/stream?t=")
    assert "connect-src 'self' http://127.0.0.1:59999" in page.headers["Content-Security-Policy"]


def test_without_a_live_process_pages_name_no_stream_and_the_portal_refuses_one(app, client, signed_in):
    html = client.get("/calendars/").get_data(as_text=True)
    assert "data-live-stream" not in html  # the page polls
    token = re.search(r'data-live-url="/live\?t=([^"&]+)', html).group(1)
    refused = client.get(f"/live/stream?t={token}")
    assert refused.status_code == 503 and "live process" in refused.get_data(as_text=True)


def test_a_stream_sends_the_new_calendars_list_once_an_appointment_is_committed(streaming, client, signed_in):
    html = client.get("/calendars/?when=all").get_data(as_text=True)
    stream = client.get(f"{_stream_path(html)}&v={_drawn_at(html)}&list={_list_url(html)}", buffered=False)
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    assert stream.headers["Cache-Control"] == "no-store"
    chunks = iter(stream.response)
    assert next(chunks).decode().startswith("retry: ")
    _make_appointment(client, "Pushed check-up")
    (name, data), = _events(stream, 1)
    event = json.loads(data)
    assert name == "changed" and event["version"] != _drawn_at(html)
    assert "Pushed check-up" in event["html"] and 'id="appointments"' in event["html"]
    assert event["fingerprint"]
    stream.close()


def test_a_page_showing_the_last_list_gets_only_the_new_row_and_a_page_drawn_earlier_the_whole_list(
        streaming, client, signed_in, monkeypatch):
    monkeypatch.setattr(live_stream, "PHASES", 1)  # both pages at one point of the beat: they share a drawing
    html = client.get("/calendars/?when=all").get_data(as_text=True)
    stream = client.get(f"{_stream_path(html)}&v={_drawn_at(html)}&list={quote(_list_url(html), safe='')}", buffered=False)
    next(iter(stream.response))
    _make_appointment(client, "First check-up")
    (_, data), = _events(stream, 1)
    first = json.loads(data)
    at_first = client.get("/calendars/?when=all").get_data(as_text=True)  # a page drawn now shows that list
    _make_appointment(client, "Second check-up")
    (_, data), = _events(stream, 1)
    second = json.loads(data)
    changes = second["changes"]
    assert changes["from"] == first["fingerprint"] and second["fingerprint"] != first["fingerprint"]
    new_rows = list(changes["rows"].values())
    assert len(new_rows) == 1 and "Second check-up" in new_rows[0] and new_rows[0].startswith("<tr data-id=")
    assert "html" not in second, "a page showing the last list was sent the whole list to parse as well"

    # That page opens its stream now: its list URL says which list it shows, so its first event is only the changes.
    joined = client.get(f"{_stream_path(at_first)}&v={_drawn_at(at_first)}&list={quote(_list_url(at_first), safe='')}",
                        buffered=False)
    (_, data), = _events(joined, 1)
    assert json.loads(data) == second

    # A page still drawn as before both bookings opens its stream now: it gets the whole list.
    late = client.get(f"{_stream_path(html)}&v={_drawn_at(html)}&list={quote(_list_url(html), safe='')}", buffered=False)
    (_, data), = _events(late, 1)
    whole = json.loads(data)
    assert whole["fingerprint"] == second["fingerprint"]
    assert "Second check-up" in whole["html"] and "First check-up" in whole["html"]
    assert len(changes["order"]) == len(re.findall(r"<tr data-id=", whole["html"]))
    assert changes["list_url"] == _list_url(whole["html"])
    late.close()  # streams hold request contexts: the last opened is closed first
    joined.close()
    stream.close()


def test_streams_are_dealt_in_turn_to_points_spread_evenly_over_the_beat():
    """50 open pages must not all redraw in the same instant: each point of the beat gets its share."""
    dealt = [next(live_stream._phases) % live_stream.PHASES for _ in range(3 * live_stream.PHASES)]
    assert all(dealt.count(p) == 3 for p in range(live_stream.PHASES))
    gap, now = live_stream.GAP_SECONDS, 1_000_000.01
    ticks = [live_stream._next_tick(now, p) for p in range(live_stream.PHASES)]
    assert all(now < t <= now + gap for t in ticks)
    points = sorted(round(t % gap, 6) for t in ticks)
    assert all(abs((b - a) - gap / live_stream.PHASES) < 1e-6 for a, b in zip(points, points[1:]))


def test_a_page_drawn_before_a_change_hears_of_it_as_soon_as_its_stream_opens(streaming, app, client, signed_in):
    html = client.get("/dashboard").get_data(as_text=True)
    with app.app_context(), db.connection_context():
        live.touch(Subaccount.get(Subaccount.name == "Acme Dental").id)
    stream = client.get(f"{_stream_path(html)}&v={_drawn_at(html)}", buffered=False)
    (name, data), = _events(stream, 1)
    assert name == "changed" and json.loads(data) == {"version": str(int(_drawn_at(html)) + 1)}
    stream.close()


def test_a_stream_reopened_with_its_last_event_id_waits_for_the_next_change(streaming, app, client, signed_in):
    html = client.get("/dashboard").get_data(as_text=True)
    with app.app_context(), db.connection_context():
        sub_id = Subaccount.get(Subaccount.name == "Acme Dental").id
        live.touch(sub_id)
        now = live.version(sub_id)
    # EventSource sends the id of the last event it got; the page is current, so only pings come.
    stream = client.get(f"{_stream_path(html)}&v=0", headers={"Last-Event-ID": now}, buffered=False)
    chunks = iter(stream.response)
    assert next(chunks).decode().startswith("retry: ")
    assert next(chunks).decode() == live_stream.PING
    stream.close()


def test_another_subaccounts_change_is_not_sent_to_this_page(streaming, app, client, signed_in, people):
    people.subaccount("Other Clinic")
    html = client.get("/dashboard").get_data(as_text=True)
    stream = client.get(f"{_stream_path(html)}&v={_drawn_at(html)}", buffered=False)
    chunks = iter(stream.response)
    next(chunks)
    with app.app_context(), db.connection_context():
        live.touch(Subaccount.get(Subaccount.name == "Other Clinic").id)
    assert next(chunks).decode() == live_stream.PING
    stream.close()


def test_a_stream_is_refused_for_a_forged_token_after_sign_out_and_after_leaving_the_subaccount(
        streaming, app, client, signed_in, people, auth):
    path = _stream_path(client.get("/dashboard").get_data(as_text=True))
    assert client.get("/live/stream?t=forged").status_code == 404
    with app.app_context(), db.connection_context():
        Membership.delete().where(Membership.user == signed_in.id).execute()
    left = client.get(path)
    assert left.status_code == 401 and "sign in" in left.get_data(as_text=True).lower()
    people.user("bob@acme.test")
    client.post("/signout")
    auth.login("bob@acme.test")
    bobs = _stream_path(client.get("/dashboard").get_data(as_text=True))
    client.post("/signout")
    assert client.get(bobs).status_code == 401


def test_only_the_portals_own_pages_may_read_a_stream_from_the_live_processs_port(streaming, app, client, signed_in):
    path = _stream_path(client.get("/dashboard").get_data(as_text=True))
    ours = client.get(path, headers={"Origin": app.config["PORTAL_BASE_URL"]}, buffered=False)
    assert ours.headers["Access-Control-Allow-Origin"] == app.config["PORTAL_BASE_URL"]
    assert ours.headers["Access-Control-Allow-Credentials"] == "true"
    ours.close()
    theirs = client.get(path, headers={"Origin": "https://evil.example"}, buffered=False)
    assert "Access-Control-Allow-Origin" not in theirs.headers
    theirs.close()


def test_each_change_is_published_with_its_version_for_the_live_process(app):
    with app.app_context(), db.connection_context():
        sub_id = Subaccount.create(name="Published Clinic").id
        listener = Redis.from_url(app.config["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
        listener.subscribe(live_stream.CHANNEL)
        listener.get_message(timeout=1)
        live.touch(sub_id)
        heard = listener.get_message(timeout=5)
        assert heard is not None and heard["data"].decode() == f"{sub_id} {live.version(sub_id)}"
        listener.close()


def test_the_hub_follows_the_counter_even_when_a_restarted_redis_starts_it_again():
    hub = live_stream.Hub()
    hub.heard(7, b"12")
    assert hub.first(7, "3") == 12  # what the listener heard beats a stream's own older reading
    assert hub.wait(7, 12, timeout=0.01) is None
    hub.heard(7, b"0")  # Redis came back empty: pages at 12 must still hear the next change
    assert hub.wait(7, 12, timeout=0.01) == 0


def test_a_crafted_list_address_gives_a_stream_without_the_list_not_an_error(streaming, client, signed_in):
    html = client.get("/dashboard").get_data(as_text=True)
    stream = client.get(f"{_stream_path(html)}&v=-5&list=//[x", buffered=False)
    assert stream.status_code == 200
    (name, data), = _events(stream, 1)
    assert name == "changed" and "html" not in json.loads(data)
    stream.close()
