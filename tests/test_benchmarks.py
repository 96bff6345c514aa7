"""The bench harness's arithmetic and its results contract (``make bench`` itself is not part of ``make test``).

``latest.json`` is read by tools outside the project, so its keys are
checked here on small synthetic results; no timing is asserted.
"""
import json

import pytest

from benchmarks import results, stats
from benchmarks.backfill import count_requests
from benchmarks.loadgen import http_request

CONTRACT_KEYS = {
    "webhook_intake": {"rate_per_s", "p50_ms", "p95_ms", "p99_ms", "ratio_to_empty_route", "lost"},
    "booking_to_visible": {"p50_ms", "p95_ms", "p99_ms"},
    "apply_throughput": {"rate_per_s", "ratio_to_noop", "workers"},
    "backfill": {"events", "seconds", "ratio_to_floor", "count_429"},
    "memory": {"worker_mb", "web_mb"},
    "reconciliation": {"upcoming_events", "calls_per_run"},
}


def test_percentiles_interpolate_between_ranks_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert stats.percentile(values, 0) == 15
    assert stats.percentile(values, 50) == 35
    assert stats.percentile(values, 100) == 50
    assert stats.percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert stats.percentile(values, 95) == pytest.approx(48.0)
    assert stats.percentile([7], 99) == 7
    assert stats.percentile([], 50) is None
    with pytest.raises(ValueError):
        stats.percentile(values, 101)


def test_latency_summary_is_in_milliseconds_whatever_the_order():
    seconds = [0.004, 0.001, 0.003, 0.002, 0.010]
    summary = stats.latency_summary(seconds)
    assert summary == {"p50_ms": 3.0, "p95_ms": 8.8, "p99_ms": 9.8, "max_ms": 10.0, "samples": 5}
    assert stats.latency_summary([])["p99_ms"] is None


def test_ratios_and_growth_exponents():
    assert stats.ratio(150, 300) == 0.5
    assert stats.ratio(1, 0) is None and stats.ratio(None, 3) is None
    assert stats.growth_exponent([10_000, 1_000_000], [2.0, 200.0]) == 1.0  # linear
    assert stats.growth_exponent([10_000, 100_000, 1_000_000], [5.0, 6.0, 5.0]) == 0.0  # flat (keyset)
    assert stats.growth_exponent([10_000], [5.0]) is None


def synthetic():
    out = results.skeleton()
    out["webhook_intake"] = {"rate_per_s": 612.0, "p50_ms": 9.1, "p95_ms": 21.0, "p99_ms": 38.5,
                             "ratio_to_empty_route": 0.44, "lost": 0, "empty_route_rate_per_s": 1390.0,
                             "goal": "≥ 500/s", "met": True}
    out["booking_to_visible"] = {"p50_ms": 120.0, "p95_ms": 310.0, "p99_ms": 480.0, "bookings": 1200,
                                 "rate_per_s": 20.0, "not_seen": 0, "met": True}
    out["apply_throughput"] = {"rate_per_s": 250.0, "ratio_to_noop": 0.7, "workers": 2, "noop_rate_per_s": 357.0,
                               "by_workers": {"1": {"rate_per_s": 230.0}, "2": {"rate_per_s": 250.0}},
                               "met": False}
    out["backfill"] = results.skipped("backfill", "not run")
    out["pages"] = {"contacts_sqlite": {"p95_ms": 14.2, "database": "sqlite", "p50_ms": 9.0,
                                        "label": "Contacts list", "met": True},
                    "contacts_postgresql": {"p95_ms": 19.9, "database": "postgresql", "p50_ms": 12.0,
                                            "label": "Contacts list", "met": True}}
    out["memory"] = {"worker_mb": 80.5, "web_mb": 120.1, "met": True}
    out["reconciliation"] = {"upcoming_events": 1000, "calls_per_run": 12, "invitee_calls_per_run": 0,
                             "first_run_calls": 1012, "first_run_invitee_calls": 1000, "goal": "≤ 12", "met": True}
    out["growth"] = {"database": "sqlite", "goal": "≤ linear", "summary": "flat", "met": True,
                     "points": [{"appointments": 10_000, "contacts": 5_000, "apply_rate_per_s": 250.0,
                                 "pages_p95_ms": {"contacts": 14.0}},
                                {"appointments": 100_000, "contacts": 50_000, "apply_rate_per_s": 240.0,
                                 "pages_p95_ms": {"contacts": 15.0}}],
                     "exponents": {"contacts": 0.03}}
    out["automation"] = {"p50_ms": 210.0, "p95_ms": 640.0, "p99_ms": 900.0, "bookings": 600, "rate_per_s": 20.0,
                         "not_tagged": 0, "published_workflows": 5, "enrolments_per_s": 410.0, "workers": 2,
                         "apply_rate_per_s": 250.0, "ratio_to_apply": 1.64, "pending_waits": 100_000,
                         "with_pending_waits": {"p95_ms": 660.0, "p99_ms": 950.0, "enrolments_per_s": 400.0},
                         "slowdown_with_waits_pct": {"latency_p95": 3.1, "throughput": 2.5},
                         "goal": "p95 ≤ 1 s", "met": True}
    out["run"] = {"seconds": 700, "notes": ["a note"]}
    return out


def test_the_written_json_keeps_the_contract_keys(tmp_path):
    json_path, md_path = results.write(synthetic(), tmp_path)
    written = json.loads(open(json_path).read())
    assert {"machine", "pages", "growth"} <= set(written)
    for section, keys in CONTRACT_KEYS.items():
        assert keys <= set(written[section]), section
    assert written["backfill"]["skipped"] == "not run" and written["backfill"]["seconds"] is None
    for page in written["pages"].values():
        assert {"p95_ms", "database"} <= set(page)
    assert {"cores", "cpu", "python", "taken_at"} <= set(written["machine"])


def test_an_empty_run_still_has_every_contract_key(tmp_path):
    json_path, _ = results.write(results.skeleton(), tmp_path)
    written = json.loads(open(json_path).read())
    for section, keys in CONTRACT_KEYS.items():
        assert set(written[section]) == keys


def test_the_markdown_table_shows_each_figure_and_the_misses(tmp_path):
    _, md_path = results.write(synthetic(), tmp_path)
    text = open(md_path).read()
    assert "| 1. Webhook intake | 612/s; p50/p95/p99 9.1/21.0/38.5 ms; lost 0 |" in text
    assert "1 worker 230/s, 2 workers 250/s" in text and "| **no** |" in text
    assert "| 4. Backfill |" in text and "| skipped |" in text
    assert "| Contacts list | postgresql | 19.9 | 12.0 |" in text
    assert "| 100,000 | 50,000 | 240 | 15.0 |" in text
    assert "| 8. Reconciliation | 12 calls per quiet run (0 invitee reads) for 1,000 upcoming events |" in text
    assert ("| Automation: booking to the first workflow step done | p50/p95/p99 210/640/900 ms from the "
            "booking call to a tag on the contact (600 bookings at 20.0/s, 5 workflows; not tagged 0); 410/s "
            "enrolments completed with 2 workers | figure 3's apply 250/s → ratio 1.64; with 100,000 pending Waits "
            "p95 660 ms (3.1% slower), 400/s (2.5% slower) | p95 ≤ 1 s | yes |") in text
    assert "- a note" in text


def test_request_counting_reads_werkzeug_lines_with_colour_codes():
    log = "\n".join([
        '127.0.0.1 - - [21/Nov/2026 01:11:03] "GET /scheduled_events?user=x&count=100 HTTP/1.1" 200 -',
        '127.0.0.1 - - [21/Nov/2026 01:11:04] "\x1b[31m\x1b[1mGET /scheduled_events/E1/invitees?count=100 '
        'HTTP/1.1\x1b[0m" 429 -',
        '127.0.0.1 - - [21/Nov/2026 01:11:04] "POST /_sandbox/bookings HTTP/1.1" 201 -',
        '127.0.0.1 - - [21/Nov/2026 01:11:05] "GET /users/me HTTP/1.1" 200 -',
    ])
    assert count_requests(log) == (3, 1, 1)


def test_requests_for_the_load_generator_carry_length_and_headers():
    raw = http_request("POST", "/webhooks/calendly/t", "127.0.0.1:5000", b'{"a":1}', {"X-Sig": "t=1,v1=ab"})
    head, body = raw.split(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /webhooks/calendly/t HTTP/1.1"
    assert b"Content-Length: 7" in head and b"X-Sig: t=1,v1=ab" in head and body == b'{"a":1}'


def test_the_backfill_floor_counts_the_limiters_fixed_windows_so_no_run_beats_it():
    from benchmarks.backfill import floor_seconds, limiter_bound, windows

    # 10,106 answered calls at 4,000 a window need 3 windows: the run cannot end before the third opens.
    assert floor_seconds(10_106, 4_000, first_window_left=59.9) == pytest.approx(119.9)
    assert floor_seconds(3_000, 4_000, first_window_left=59.9) is None  # one window: the limiter never binds
    log = "\n".join(
        [f'127.0.0.1 - - [21/Nov/2026 01:11:{s:02d}] "GET /scheduled_events HTTP/1.1" 200 -' for s in range(4)]
        + ['127.0.0.1 - - [21/Nov/2026 01:11:59] "GET /scheduled_events HTTP/1.1" 429 -',
           '127.0.0.1 - - [21/Nov/2026 01:12:00] "GET /scheduled_events HTTP/1.1" 200 -'])
    rows = windows(log, limit=4)
    assert [(w["window"], w["answered"], w["count_429"]) for w in rows] == [
        ("21/Nov/2026 01:11", 4, 1), ("21/Nov/2026 01:12", 1, 0)]
    assert limiter_bound(rows, limit=4) and not limiter_bound(rows, limit=8)


def test_a_full_run_rewrites_the_readme_table_between_its_markers_and_nothing_else(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n### Latest figures\n\nWhat they mean.\n\n{results.BEGIN}\n\nold table\n\n"
                      f"{results.END}\n\n## After\n")
    assert results.update_readme(synthetic(), path=readme)
    text = readme.read_text()
    assert "old table" not in text
    assert text.startswith("# Project\n\n### Latest figures\n\nWhat they mean.\n\n" + results.BEGIN)
    assert text.endswith(results.END + "\n\n## After\n")
    block = text.split(results.BEGIN)[1].split(results.END)[0]
    # The same rows as latest.md, under the README's heading levels, without latest.md's title.
    assert "| 1. Webhook intake | 612/s; p50/p95/p99 9.1/21.0/38.5 ms; lost 0 |" in block
    assert "#### Pages: server time" in block and "# Calbridge benchmark results" not in block


def test_a_readme_without_the_markers_is_left_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n")
    assert results.update_readme(synthetic(), path=readme) is False
    assert readme.read_text() == "# Project\n"


def test_the_project_readme_has_the_markers_the_bench_writes_between():
    text = open(results.README).read()
    assert text.count(results.BEGIN) == 1 and text.count(results.END) == 1
    assert text.index(results.BEGIN) > text.index("### Latest figures")


def test_the_backfill_starts_in_the_open_window_only_when_the_calibrated_rate_can_fill_it():
    from benchmarks.backfill import WINDOW_SECONDS, seconds_to_fill, wait_for_window

    limit, capacity = 2_000, 4_000  # the calibration's worst case: the limit is half what the machine does
    need = seconds_to_fill(limit, capacity)
    assert 40 < need < WINDOW_SECONDS  # 95% of the limit at half the rate is ~29 s, with margin and connect
    minute = 1_800_000_000 - 1_800_000_000 % WINDOW_SECONDS
    assert wait_for_window(limit, capacity, now=minute + 5) == 0  # 55 s left: fills it
    assert wait_for_window(limit, capacity, now=minute + 30) == pytest.approx(30.05)  # 30 s left: next one
    assert wait_for_window(limit, capacity * 4, now=minute + 30) == 0  # a faster machine fills 30 s
    assert wait_for_window(limit, None, now=minute + 5) == pytest.approx(55.05)  # no calibration: a fresh one
