"""The sandbox's Calendly web-app page for hosts (the portal's "Open in Calendly"): signed in, a host sees their
own meeting by its uuid, and nobody else's."""
import re
from urllib.parse import quote

from sandbox_helpers import at


def _csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(client, email, password, next_path):
    page = client.get(f"/login?next={quote(next_path)}").get_data(as_text=True)
    return client.post("/login", data={"csrf_token": _csrf(page), "email": email, "password": password,
                                       "next": next_path})


def test_a_host_opens_their_meeting_after_signing_in_and_not_another_hosts(sb_client, admin):
    admin.user("ann@cal.test", name="Ann Host")
    admin.user("ben@cal.test", name="Ben Host")
    intro = admin.event_type("Intro call", ["ann@cal.test"])
    booked = admin.book(intro["uri"], at(2), email="grace@example.com", name="Grace Hopper",
                        guests=["alan@example.com"])
    uuid = booked["event"].rsplit("/", 1)[1]
    path = f"/app/scheduled_events/user/me?uuid={uuid}"

    first = sb_client.get(path)
    assert first.status_code == 302 and "/login?next=" in first.headers["Location"]

    landed = _sign_in(sb_client, "ann@cal.test", "pw-ann@cal.test", path)
    assert landed.status_code == 302 and landed.headers["Location"].endswith(path)
    page = sb_client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Intro call</h1>" in html
    assert "Grace Hopper &lt;grace@example.com&gt;" in html and "alan@example.com" in html
    assert "Hosts: Ann Host" in html
    listing = sb_client.get("/app/scheduled_events/user/me").get_data(as_text=True)
    assert f'href="/app/scheduled_events/user/me?uuid={uuid}">Intro call</a>' in listing

    sb_client.get("/")  # a fresh session for Ben
    with sb_client.session_transaction() as session:
        session.clear()
    _sign_in(sb_client, "ben@cal.test", "pw-ben@cal.test", path)
    other = sb_client.get(path)
    assert other.status_code == 404 and "not among your scheduled events" in other.get_data(as_text=True)
    assert "Grace" not in other.get_data(as_text=True)
