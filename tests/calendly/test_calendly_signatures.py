"""Webhook signatures (SPEC C7): Calendly's scheme, verified in constant time with a replay window."""
import hashlib
import hmac

from portal.calendly.signatures import parse, sign, verify

BODY = b'{"event":"invitee.created","payload":{"email":"ann@example.com"}}'
KEY = "per-connection-signing-key"
NOW = 1_700_000_000


def test_sign_matches_calendly_documented_scheme():
    header = sign(KEY, BODY, t=NOW)
    expected = hmac.new(KEY.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_valid_signature_is_accepted():
    assert verify(sign(KEY, BODY, t=NOW), BODY, KEY, now=NOW + 5)


def test_tampered_body_is_refused():
    header = sign(KEY, BODY, t=NOW)
    assert not verify(header, BODY.replace(b"ann", b"eve"), KEY, now=NOW)
    assert not verify(header, BODY + b" ", KEY, now=NOW)


def test_old_timestamp_is_refused_as_a_replay():
    header = sign(KEY, BODY, t=NOW)
    assert verify(header, BODY, KEY, now=NOW + 180)
    assert not verify(header, BODY, KEY, now=NOW + 181)
    assert not verify(header, BODY, KEY, tolerance=60, now=NOW + 61)


def test_timestamp_from_the_future_is_refused():
    assert not verify(sign(KEY, BODY, t=NOW + 600), BODY, KEY, now=NOW)


def test_wrong_key_is_refused():
    assert not verify(sign("someone-elses-key", BODY, t=NOW), BODY, KEY, now=NOW)
    assert not verify(sign(KEY, BODY, t=NOW), BODY, "", now=NOW)


def test_malformed_headers_are_refused():
    good = sign(KEY, BODY, t=NOW)
    for header in (None, "", "garbage", "t=,v1=", f"t={NOW}", "v1=abc", f"t=abc,{good.split(',')[1]}",
                   good.replace("v1=", "v0="), good.replace(",", ";"), "t=\u00b2,v1=00"):
        assert not verify(header, BODY, KEY, now=NOW), header


def test_changing_the_timestamp_breaks_the_signature():
    sig = sign(KEY, BODY, t=NOW).split(",")[1]
    assert not verify(f"t={NOW + 1},{sig}", BODY, KEY, now=NOW)


def test_any_of_several_v1_signatures_may_match():
    good = sign(KEY, BODY, t=NOW)
    assert verify(f"t={NOW},v1={'0' * 64},{good.split(',')[1]}", BODY, KEY, now=NOW)


def test_parse_reads_timestamp_and_signatures():
    assert parse("t=12,v1=ab") == (12, ["ab"])
    assert parse("v1=ab") == (None, [])
