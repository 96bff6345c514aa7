"""Local time (issue 16): shown in the person's zone with its name, typed in it, stored UTC, DST-correct."""
from datetime import datetime
from types import SimpleNamespace

import pytest

from portal import localtime

CHICAGO = localtime.zone("America/Chicago")
BERLIN = localtime.zone("Europe/Berlin")


def appt(start, end):
    return SimpleNamespace(start=start, end=end)


def test_a_15_00_utc_booking_reads_9_am_cst_in_winter_and_10_am_cdt_in_summer_in_chicago():
    assert localtime.when(datetime(2030, 1, 15, 15, 0), CHICAGO) == "Tue 15 Jan 2030, 9:00 AM CST"
    assert localtime.when(datetime(2030, 7, 15, 15, 0), CHICAGO) == "Mon 15 Jul 2030, 10:00 AM CDT"


def test_berlin_reads_a_24_hour_clock_with_cet_and_cest():
    assert localtime.when(datetime(2030, 1, 15, 15, 0), BERLIN) == "Tue 15 Jan 2030, 16:00 CET"
    assert localtime.when(datetime(2030, 7, 15, 15, 0), BERLIN) == "Mon 15 Jul 2030, 17:00 CEST"


def test_typed_chicago_times_are_stored_as_utc_either_side_of_the_spring_change():
    # 10 March 2030: clocks go from 2:00 to 3:00 AM in Chicago.
    assert localtime.to_utc(datetime(2030, 3, 9, 9, 0), CHICAGO) == datetime(2030, 3, 9, 15, 0)
    assert localtime.to_utc(datetime(2030, 3, 11, 9, 0), CHICAGO) == datetime(2030, 3, 11, 14, 0)
    assert localtime.to_utc(datetime(2030, 3, 10, 1, 59), CHICAGO) == datetime(2030, 3, 10, 7, 59)
    assert localtime.to_utc(datetime(2030, 3, 10, 3, 0), CHICAGO) == datetime(2030, 3, 10, 8, 0)


def test_a_time_the_spring_change_skips_is_refused_with_a_sentence():
    with pytest.raises(localtime.NonexistentTime, match="does not exist in America/Chicago"):
        localtime.to_utc(datetime(2030, 3, 10, 2, 30), CHICAGO)
    with pytest.raises(localtime.NonexistentTime, match="does not exist in Europe/Berlin"):
        localtime.to_utc(datetime(2030, 3, 31, 2, 30), BERLIN)


def test_the_repeated_fall_back_hour_is_read_as_its_first_occurrence():
    # 3 November 2030 in Chicago: 1:30 AM happens at 06:30 UTC (CDT) and again at 07:30 UTC (CST).
    assert localtime.to_utc(datetime(2030, 11, 3, 1, 30), CHICAGO) == datetime(2030, 11, 3, 6, 30)
    # 27 October 2030 in Berlin: 2:30 happens at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    assert localtime.to_utc(datetime(2030, 10, 27, 2, 30), BERLIN) == datetime(2030, 10, 27, 0, 30)


def test_typed_berlin_times_are_stored_as_utc_either_side_of_the_autumn_change():
    assert localtime.to_utc(datetime(2030, 10, 26, 9, 0), BERLIN) == datetime(2030, 10, 26, 7, 0)
    assert localtime.to_utc(datetime(2030, 10, 28, 9, 0), BERLIN) == datetime(2030, 10, 28, 8, 0)


def test_shown_and_typed_times_round_trip_across_both_changes():
    for tz in (CHICAGO, BERLIN):
        for utc in (datetime(2030, 3, 9, 15), datetime(2030, 3, 31, 9), datetime(2030, 10, 27, 9),
                    datetime(2030, 11, 3, 15), datetime(2030, 11, 3, 7, 30)):
            local = localtime.as_local_naive(utc, tz)
            if utc == datetime(2030, 11, 3, 7, 30) and tz is CHICAGO:
                continue  # the second 1:30 AM: typed, it means the first one
            assert localtime.to_utc(local, tz) == utc


def test_a_local_day_spans_23_or_25_hours_on_change_days():
    begin, end = localtime.local_days_utc(datetime(2030, 3, 10).date(), 1, CHICAGO)
    assert (begin, end) == (datetime(2030, 3, 10, 6), datetime(2030, 3, 11, 5))
    begin, end = localtime.local_days_utc(datetime(2030, 10, 27).date(), 1, BERLIN)
    assert (begin, end) == (datetime(2030, 10, 26, 22), datetime(2030, 10, 27, 23))


def test_a_span_across_the_change_names_both_abbreviations():
    assert localtime.span(appt(datetime(2030, 11, 3, 6, 30), datetime(2030, 11, 3, 7, 30)), CHICAGO) == (
        "Sun 3 Nov 2030, 1:30 AM CDT – Sun 3 Nov 2030, 1:30 AM CST")
    assert localtime.span(appt(datetime(2030, 1, 15, 15), datetime(2030, 1, 15, 15, 30)), CHICAGO) == (
        "Tue 15 Jan 2030, 9:00 AM–9:30 AM CST")


def test_zone_choice_follows_the_user_then_the_subaccount_then_utc():
    sub = SimpleNamespace(time_zone="America/Chicago")
    assert localtime.zone_for(SimpleNamespace(time_zone=None), sub).key == "America/Chicago"
    assert localtime.zone_for(SimpleNamespace(time_zone="Europe/Berlin"), sub).key == "Europe/Berlin"
    assert localtime.zone_for(None, None).key == "UTC"
    assert localtime.zone_for(None, SimpleNamespace(time_zone="Not/AZone")).key == "UTC"
    assert "America/Chicago" in localtime.zone_names() and localtime.zone_names()[0] == "UTC"
    assert not localtime.is_zone("Not/AZone")


def test_email_merge_fields_give_the_appointment_start_in_the_subaccounts_zone():
    from portal import merge_fields

    sub = SimpleNamespace(name="Acme Dental", time_zone="America/Chicago")
    a = SimpleNamespace(title="Intro", start=datetime(2030, 1, 15, 15, 0), end=datetime(2030, 1, 15, 15, 30),
                        calendar_name="Intro", source="calendly", status="booked", owner=None, subaccount=sub)
    ctx = merge_fields.context_for(appointment=a, subaccount=sub)
    assert ctx["appointment"]["start"] == "Tue 15 Jan 2030, 9:00 AM CST"
    assert ctx["appointment"]["end"] == "Tue 15 Jan 2030, 9:30 AM CST"
