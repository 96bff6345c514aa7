"""The sync engine: which Calendly bookings are imported and what they become.

- ``booking``: a Calendly invitee + scheduled event parsed into a ``Booking``;
- ``windows``: the pure sync-window rules (SPEC W1-W5) and the status gate;
- ``ownership``: who owns an appointment (O1, O2) and a contact (O3);
- ``apply``: the one idempotent write path (E1, E2, E4, W6) used by webhooks,
  backfill and reconciliation;
- ``inbox``: the durable webhook inbox (intake, enqueue, sweep);
- ``backfill`` / ``reconcile``: the jobs that list bookings from Calendly (W2, E5, C5, C7);
- ``deletion``: removing calendars and their appointments (D2-D5).
"""
