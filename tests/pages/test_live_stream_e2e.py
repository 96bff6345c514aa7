"""Live pages on the live process, in a real browser (issue 19): an open Calendars list gets a booking
from its event stream without asking the portal anything, and keeps up by polling while the live
process is down, then takes its stream again once the process is back."""
import pytest
from playwright.sync_api import expect
from live_steps import ARRIVES, book_first_free_time, connect_nina

pytestmark = pytest.mark.e2e


def _asks(page):
    """Every request the page makes to stay current: its poll, its list, its stream."""
    asked = []
    page.on("request", lambda r: asked.append(r.url) if any(
        p in r.url for p in ("/live?", "/calendars/?", "/live/stream")) else None)
    return asked


def _open_calendars_with_its_stream(page):
    with page.expect_request(lambda r: "/live/stream?" in r.url, timeout=ARRIVES):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendars").click()
    expect(page.get_by_text("No appointments yet.")).to_be_visible()


def test_an_open_calendars_list_gets_a_booking_from_its_stream_without_asking_the_portal(
        page, live_server, live_process, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people)
    invitee = page.context.new_page()
    _open_calendars_with_its_stream(page)
    asked = _asks(page)

    book_first_free_time(invitee, intro["scheduling_url"], "Grace Hopper", "grace@example.com")

    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible(timeout=ARRIVES)
    assert asked == [], f"the page asked {asked} instead of hearing its stream"
    expect(page.locator("#live-announcer")).to_contain_text("1 new booking: ")

    # The next event names only the new row: the row already shown stays as it is, the new one is added.
    grace = page.locator("#appointments tbody tr", has=page.get_by_role("link", name="Grace Hopper"))
    grace.evaluate("tr => { tr.__shownBefore = true; }")
    book_first_free_time(invitee, intro["scheduling_url"], "Ada Lovelace", "ada@example.com")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible(timeout=ARRIVES)
    assert grace.evaluate("tr => tr.__shownBefore === true"), "the rows already shown were drawn again"
    assert asked == [], f"the page asked {asked} instead of hearing its stream"
    expect(page.locator("#live-announcer")).to_contain_text("1 new booking: ")
    expect(page.locator("#live-announcer")).to_contain_text("Ada Lovelace")


def test_an_open_page_keeps_up_while_the_live_process_is_down_and_takes_its_stream_again(
        page, live_server, live_process, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people)
    invitee = page.context.new_page()
    _open_calendars_with_its_stream(page)
    page.evaluate("window.__sameDocument = true")

    with page.expect_request(lambda r: "/live?" in r.url, timeout=ARRIVES):  # the stream broke: it polls
        live_process.stop()
    book_first_free_time(invitee, intro["scheduling_url"], "Ada Lovelace", "ada@example.com")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible(timeout=ARRIVES)

    # Tried again: once the stream is open the list fetches itself once to catch up, then it only listens.
    with page.expect_request(lambda r: "/calendars/?" in r.url, timeout=60_000):
        with page.expect_request(lambda r: "/live/stream?" in r.url, timeout=60_000):
            live_process.start()
    asked = _asks(page)
    book_first_free_time(invitee, intro["scheduling_url"], "Alan Turing", "alan@example.com")
    expect(page.get_by_role("link", name="Alan Turing")).to_be_visible(timeout=ARRIVES)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded instead of catching up"
    assert not [u for u in asked if "/live?" in u], "the page kept polling once its stream was open again"


def test_a_page_showing_a_list_its_stream_does_not_know_opens_its_stream_again_and_gets_the_whole_list(
        page, live_server, live_process, sandbox, people, worker):
    intro = connect_nina(page, live_server, sandbox, people)
    invitee = page.context.new_page()
    _open_calendars_with_its_stream(page)
    book_first_free_time(invitee, intro["scheduling_url"], "Grace Hopper", "grace@example.com")
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible(timeout=ARRIVES)

    # The page now shows a list its stream never sent (as after a fetch of its own): the next event's changes
    # do not fit it, and there is no whole list in that event.
    page.evaluate("""() => {
      const list = document.getElementById('appointments');
      list.setAttribute('data-live-fingerprint', 'elsewhere');
      list.setAttribute('data-live-list', list.getAttribute('data-live-list').replace(/([?&]v=)[^&]*/, '$1elsewhere'));
    }""")
    asked = _asks(page)
    book_first_free_time(invitee, intro["scheduling_url"], "Ada Lovelace", "ada@example.com")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible(timeout=ARRIVES)
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
    assert [u for u in asked if "/live/stream?" in u], "the page did not open its stream again"
    assert not [u for u in asked if "/calendars/?" in u or "/live?" in u], f"the page asked {asked}"
