"""When a Wait step ends: after a duration, or N minutes before the appointment starts."""
from dataclasses import dataclass
from datetime import timedelta

DURATION, BEFORE_START = "duration", "before_start"


@dataclass(frozen=True)
class WaitPlan:
    until: object  # a naive UTC datetime, or None when skipped
    skipped: str | None = None  # why the wait is skipped


def plan(config, now, appointment_start=None, time_scale=1.0):
    """The moment the wait ends. ``time_scale`` < 1 shortens every wait (tests and demos)."""
    minutes = max(0, int(config.get("minutes") or 0))
    if config.get("mode") == BEFORE_START:
        if appointment_start is None:
            return WaitPlan(None, "no appointment to wait for")
        moment = appointment_start - timedelta(minutes=minutes)
        if moment <= now:
            return WaitPlan(None, f"{minutes} minutes before the start has already passed")
        return WaitPlan(now + (moment - now) * time_scale)
    return WaitPlan(now + timedelta(minutes=minutes) * time_scale)


def describe(config):
    minutes = int(config.get("minutes") or 0)
    if config.get("mode") == BEFORE_START:
        return f"Wait until {minutes} minutes before the appointment starts"
    return f"Wait {minutes} minutes"
