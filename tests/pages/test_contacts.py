"""Contacts: list, search, keyset paging, detail with assigned user (O3), manual creation (E2), T2."""
import re
from datetime import datetime

from portal.extensions import db
from portal.models import Contact, Subaccount, normalize_email


def names(html):
    return re.findall(r'class="cell-strong[^"]*" href="/contacts/\d+">([^<]+)</a>', html)


def test_list_shows_name_email_assigned_user_appointments_and_created(client, signed_in, rows):
    grace = rows.contact(name="Grace Hopper", email="grace@example.com", assigned_user=signed_in,
                         created_at=datetime(2029, 11, 3, 12))
    rows.appointment(contact=grace)
    rows.appointment(contact=grace)
    rows.appointment(guests=[grace])
    html = client.get("/contacts/").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td><a class=\"cell-strong\"[^>]*>Grace Hopper</a></td>(.*?)</tr>", html, re.S).group(1)
    assert "grace@example.com" in row and "Ann Owner" in row
    assert '<td class="num">3</td>' in row
    assert "Sat 3 Nov 2029" in row


def test_empty_list(client, signed_in):
    html = client.get("/contacts/").get_data(as_text=True)
    assert "No contacts yet." in html and 'href="/contacts/new"' in html


def test_search_by_name_or_email_and_the_htmx_fragment(client, signed_in, rows):
    rows.contact(name="Grace Hopper", email="grace@navy.example")
    rows.contact(name="Alan Turing", email="alan@bletchley.example")
    rows.contact(name="", email="hopper.fan@example.com")
    assert names(client.get("/contacts/?q=hopper").get_data(as_text=True)) == ["(no name)", "Grace Hopper"]
    assert names(client.get("/contacts/?q=BLETCHLEY").get_data(as_text=True)) == ["Alan Turing"]
    page = client.get("/contacts/").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search"' in page and 'hx-target="#contact-results"' in page
    fragment = client.get("/contacts/?q=alan", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="contact-results"') and names(fragment) == ["Alan Turing"]
    none = client.get("/contacts/?q=100%25_").get_data(as_text=True)  # wildcards match themselves
    assert "No contacts match “100%_”." in none


def test_the_search_answer_carries_its_count_in_words_and_the_list_is_not_a_live_region(client, signed_in, rows):
    rows.contact(name="Grace Hopper", email="grace@navy.example")
    rows.contact(name="", email="hopper.fan@example.com")
    rows.contact(name="Alan Turing", email="alan@bletchley.example")
    found = {q: client.get(f"/contacts/?q={q}", headers={"HX-Request": "true"}).get_data(as_text=True)
             for q in ("hopper", "alan", "nobody")}
    assert 'data-announce-found="2 contacts found"' in found["hopper"]
    assert 'data-announce-found="1 contact found"' in found["alan"]
    assert 'data-announce-found="No contacts found"' in found["nobody"]
    page = client.get("/contacts/").get_data(as_text=True)
    results = page[page.index('<div id="contact-results"'):]
    assert "aria-live" not in results.split(">", 1)[0] and "data-announce-found" not in results.split(">", 1)[0]


def test_a_search_of_many_contacts_says_more_than_the_cap(client, signed_in, app_ctx, monkeypatch):
    from portal.contacts import queries

    monkeypatch.setattr(queries, "FOUND_CAP", 3)
    sub = Subaccount.get(Subaccount.name == "Acme Dental")
    Contact.insert_many([{"subaccount": sub, "name": f"Person {i}", "email": f"p{i}@example.com",
                          "email_normalized": f"p{i}@example.com"} for i in range(5)]).execute()
    fragment = client.get("/contacts/?q=person", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-announce-found="More than 3 contacts found"' in fragment


def test_keyset_pagination_by_name(client, signed_in, app_ctx):
    sub = Subaccount.get(Subaccount.name == "Acme Dental")
    with db.atomic():
        Contact.insert_many([{"subaccount": sub, "name": f"Person {i // 2:03d}", "email": f"p{i}@example.com",
                              "email_normalized": f"p{i}@example.com"} for i in range(120)]).execute()
    url, seen = "/contacts/", []
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += names(html)
        m = re.search(r'rel="next" href="([^"]+)"', html)
        url = m.group(1).replace("&amp;", "&") if m else None
    expected = [c.name for c in Contact.select().order_by(Contact.name, Contact.id)]
    assert seen == expected and len(seen) == 120


def test_detail_shows_assigned_user_and_appointments_as_booker_and_guest(client, signed_in, rows, people):
    bob = people.user("bob@acme.test", name="Bob Builder")
    grace = rows.contact(name="Grace Hopper", email="grace@example.com", assigned_user=bob)
    rows.appointment(title="Her booking", contact=grace, owner=bob)
    rows.appointment(title="Her friend's booking", guests=[grace])
    html = client.get(f"/contacts/{grace.id}").get_data(as_text=True)
    assert "<h1>Grace Hopper</h1>" in html and "grace@example.com" in html
    assert "Bob Builder" in html and "Owner of the latest booking: the owner" in html
    booked, guest = html.split('id="guest-heading"')
    assert "Her booking" in booked and "Her friend&#39;s booking" in guest


def test_add_a_contact_by_hand(client, signed_in):
    resp = client.post("/contacts/new", data={"name": "Pat Lee", "email": " Pat@Example.com "})
    assert resp.status_code == 303
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Contact Pat Lee added." in html and "<h1>Pat Lee</h1>" in html
    with db.connection_context():
        assert Contact.get(Contact.email_normalized == "pat@example.com").name == "Pat Lee"


def test_duplicate_email_is_refused_with_a_link_to_the_existing_contact(client, signed_in, rows):
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    resp = client.post("/contacts/new", data={"name": "Another Grace", "email": "GRACE@example.com "})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "A contact with this email already exists" in html and f'href="/contacts/{grace.id}"' in html
    assert 'value="Another Grace"' in html  # nothing typed is lost
    with db.connection_context():
        assert Contact.select().where(Contact.email_normalized == normalize_email("grace@example.com")).count() == 1


def test_same_email_is_fine_in_another_subaccount(client, signed_in, rows, people):
    people.subaccount("Other Clinic")
    rows.contact(subaccount="Other Clinic", name="Grace", email="grace@example.com")
    assert client.post("/contacts/new", data={"name": "Grace", "email": "grace@example.com"}).status_code == 303


def test_invalid_email_is_explained(client, signed_in):
    html = client.post("/contacts/new", data={"name": "Pat", "email": "pat at example"}).get_data(as_text=True)
    assert "Enter a valid email address" in html and 'value="pat at example"' in html


def test_another_subaccounts_contact_is_404_and_not_listed(client, signed_in, rows, people):
    people.subaccount("Other Clinic")
    theirs = rows.contact(subaccount="Other Clinic", name="Their Client", email="their@example.com")
    resp = client.get(f"/contacts/{theirs.id}")
    assert resp.status_code == 404 and "Their Client" not in resp.get_data(as_text=True)
    assert "Their Client" not in client.get("/contacts/?q=their").get_data(as_text=True)
