"""Percentiles and latency summaries (pure functions, unit-tested)."""
import math
import statistics


def percentile(values, p):
    """The ``p``-th percentile (whole numbers 0-100) of ``values``, interpolated linearly between ranks.

    ``statistics.quantiles``' inclusive method, the same definition as
    ``numpy.percentile``'s default; ``None`` for no values.
    """
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    if p in (0, 100) or len(values) == 1:  # the ends, which ``quantiles`` does not return
        return float(min(values) if p == 0 else max(values))
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def latency_summary(seconds):
    """p50/p95/p99 and max in milliseconds (rounded to 0.1 ms) of latencies given in seconds."""
    out = {}
    for name, p in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99), ("max_ms", 100)):
        value = percentile(seconds, p)
        out[name] = None if value is None else round(value * 1000, 1)
    out["samples"] = len(seconds)
    return out


def ratio(value, reference, digits=2):
    """``value / reference`` rounded, or ``None`` when either is missing or the reference is 0."""
    if value is None or not reference:
        return None
    return round(value / reference, digits)


def growth_exponent(sizes, costs):
    """The slope of log(cost) against log(size) between the first and last point.

    1.0 means cost grows linearly with size, 0 means it does not grow; the
    pages should be near 0 (keyset) and apply near 0 (indexed lookups).
    """
    pairs = [(s, c) for s, c in zip(sizes, costs) if s and c]
    if len(pairs) < 2:
        return None
    (s0, c0), (s1, c1) = pairs[0], pairs[-1]
    if s0 == s1:
        return None
    return round(math.log(c1 / c0) / math.log(s1 / s0), 2)
