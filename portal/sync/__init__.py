"""The sync rules: which Calendly bookings are imported and what they become.

Plain functions over models and values, settings passed in as arguments: no
Flask, RQ, Redis or HTTP client here, and no blueprint (the orchestration that
runs these rules is ``portal.pipeline``).

- ``booking``: a Calendly invitee + scheduled event parsed into a ``Booking``;
- ``windows``: the sync-window rules (SPEC W1-W5) and the status gate;
- ``ownership``: who owns an appointment (O1, O2) and a contact (O3);
- ``apply``: the one idempotent write path (E1, E2, E4, W6);
- ``deletion``: removal answers, the D4 consensus and one purge batch (D2-D5).
"""
