"""``make bench`` (``python -m benchmarks``): speed, cost and scale of the real stack.

Each figure is measured in the same run as its reference and reported as a
ratio, so a busy machine moves both and not the ratio. Results go to
``benchmarks/results/latest.json`` (a contract read by tools outside the
project: keep its keys) and ``latest.md``; the README explains how to read
them (SPEC E5, R3).
"""
