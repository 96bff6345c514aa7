"""Running the sync rules (``portal.sync``): the orchestration the webhook blueprint and ``jobs/`` call.

- ``intake``: a webhook request verified, stored and handed on (C7, E2, W6);
- ``inbox``: the hand-off to RQ and the sweep of what no worker finished (E5);
- ``batches``: applying stored deliveries, several per job (W6);
- ``backfill`` / ``reconcile``: runs that list bookings from Calendly (W2, E5, C5, C7), RQ unique job ids;
- ``purge``: a calendar's deletion as a background task (D5);
- ``answers`` / ``disconnect``: Keep / Delete answers recorded, Disconnect with access removed at Calendly (D2-D5, C7);
- ``member_removal``: a member removed by an admin, their connection and appointments handed over (D3, O2, O3).
"""
