"""The bench's bulk insert (``benchmarks.data.bulk_insert``) stores the rows Peewee's ``insert_many`` would.

It replaced ``insert_many`` to fill a subaccount with 1,000,000 appointments
in the time budget, so what figures 5 and 7 read must be the same rows,
Peewee's own defaults included, on SQLite and (``make test-postgres``) PostgreSQL.
"""
from datetime import datetime

from benchmarks.data import bulk_insert
from portal.models import Appointment, Contact, Source, Subaccount


def _columns(row):
    return {k: v for k, v in row.__data__.items() if k not in ("id", "invitee_uri", "event_uri")}


def test_bulk_insert_stores_what_insert_many_stores_defaults_included(app_ctx, people):
    ada = people.user("ada@acme.test")
    sub = Subaccount.get(name="Acme Dental")
    contact = Contact.create(subaccount=sub, name="Grace", email="grace@example.com",
                             email_normalized="grace@example.com")
    start = datetime(2026, 3, 2, 9, 30)

    def row(n):
        return {"subaccount": sub.id, "source": Source.CALENDLY, "title": "Cleaning", "start": start,
                "end": start.replace(minute=45), "contact": contact.id, "owner": ada.id,
                "owner_reason": "O1: personal calendar", "invitee_uri": f"https://x/inv/{n}",
                "event_uri": f"https://x/ev/{n}", "event_type_uri": "https://x/et", "calendar_name": "Cleaning",
                "booked_at": start, "created_at": start}

    Appointment.insert_many([row(1)]).execute()
    bulk_insert(Appointment, [row(2), row(3)])
    peewee_row, *ours = Appointment.select().order_by(Appointment.id)
    assert len(ours) == 2
    for mine in ours:
        assert _columns(mine) == _columns(peewee_row)
    assert ours[0].start == start and ours[0].status == peewee_row.status and ours[0].contact.name == "Grace"


def test_bulk_insert_keeps_tabs_line_ends_backslashes_empty_strings_and_nulls(app_ctx):
    # On PostgreSQL the rows travel in COPY's text format, where these characters are the syntax.
    sub = Subaccount.create(name="Escapes Dental")
    odd = ["tab\there", "line\nend\r\n", "back\\slash \\N", "", "\\."]
    bulk_insert(Contact, [{"subaccount": sub.id, "name": name, "email": f"odd{n}@example.com",
                           "email_normalized": f"odd{n}@example.com", "assigned_user": None}
                          for n, name in enumerate(odd)])
    stored = list(Contact.select().where(Contact.subaccount == sub).order_by(Contact.id))
    assert [c.name for c in stored] == odd
    assert all(c.assigned_user_id is None and c.created_at is not None for c in stored)
