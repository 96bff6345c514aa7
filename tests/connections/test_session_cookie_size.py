"""The session cookie stays under the 4 KB a browser keeps, however often Connect is clicked or a notice repeats.

Past that size a browser drops the cookie silently: the person is signed out
and every form fails its CSRF check.
"""
from calendly_oauth_flow import authorize
from connections_helpers import INDEX, flashes

from portal.models import CalendlyConnection, Status
from portal.extensions import db

BROWSER_LIMIT = 4093  # what Werkzeug warns past, and about what browsers accept for one cookie
CALENDLY = "ann@calendly.test"


def cookie_size(client):
    return len(client.get_cookie("calbridge_session").value)


def test_connect_abandoned_ten_times_keeps_the_cookie_small_and_the_newest_sign_ins_still_finish(
        flow, ann, sandbox, client, stack):
    sandbox.create_user(CALENDLY)
    sandbox.create_event_type("Intro call", hosts=[CALENDLY])
    starts = [flow.start() for _ in range(10)]  # Connect, then back out of Calendly's page, ten times
    assert cookie_size(client) < BROWSER_LIMIT // 2

    # The oldest abandoned sign-in is forgotten: coming back from it is refused with the usual sentence.
    answer = authorize(stack, CALENDLY, url=starts[0])
    resp = flow.callback({k: v for k, v in answer.items() if k != "location"})
    assert "We could not verify this Calendly sign-in" in " ".join(flashes(flow.page(resp)))

    # The one before the newest (another tab) still finishes.
    answer = authorize(stack, CALENDLY, url=starts[-2])
    resp = flow.callback({k: v for k, v in answer.items() if k != "location"})
    assert f"{INDEX}?select=" in resp.headers["Location"]
    with db.connection_context():
        assert CalendlyConnection.get(CalendlyConnection.calendly_email == CALENDLY).status == Status.PENDING


def test_a_notice_repeated_by_requests_whose_page_was_never_shown_is_shown_once(flow, ann, client):
    for _ in range(40):  # Calendly's "Deny" answered forty times, no page read in between
        flow.start()
        client.get("/connections/calendly/callback", query_string={"error": "access_denied", "state": "x"})
    assert cookie_size(client) < BROWSER_LIMIT // 2
    shown = flashes(client.get(INDEX).get_data(as_text=True))
    assert len(shown) == 1 and "Calendly" in shown[0]
