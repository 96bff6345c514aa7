"""Dates and times as the pages print them: always UTC, and said so."""
from datetime import datetime
from types import SimpleNamespace

from portal.main.formatting import ago, duration, span, when


def appt(start, end):
    return SimpleNamespace(start=start, end=end)


def test_when_and_span_name_utc():
    assert when(datetime(2030, 5, 6, 14, 30)) == "Mon 6 May 2030, 14:30 UTC"
    assert span(appt(datetime(2030, 5, 6, 14, 30), datetime(2030, 5, 6, 15, 15))) == "Mon 6 May 2030, 14:30–15:15 UTC"
    # Across midnight both dates are written out.
    assert span(appt(datetime(2030, 5, 6, 23, 30), datetime(2030, 5, 7, 0, 30))) == (
        "Mon 6 May 2030, 23:30 UTC – Tue 7 May 2030, 00:30 UTC")


def test_duration():
    assert duration(appt(datetime(2030, 1, 1, 9), datetime(2030, 1, 1, 9, 45))) == "45 min"
    assert duration(appt(datetime(2030, 1, 1, 9), datetime(2030, 1, 1, 11))) == "2 h"
    assert duration(appt(datetime(2030, 1, 1, 9), datetime(2030, 1, 1, 10, 15))) == "1 h 15 min"


def test_ago():
    now = datetime(2030, 1, 10, 12, 0)
    assert ago(datetime(2030, 1, 10, 11, 59, 30), now) == "just now"
    assert ago(datetime(2030, 1, 10, 11, 55), now) == "5 min ago"
    assert ago(datetime(2030, 1, 10, 9, 0), now) == "3 h ago"
    assert ago(datetime(2030, 1, 9, 12, 0), now) == "1 day ago"
    assert ago(datetime(2029, 12, 1, 12, 0), now) == "on Sat 1 Dec 2029"
