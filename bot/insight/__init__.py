"""Insight for operators: early warning when a fault starts to spread (reports come later).

``detector`` is the pure engine (numpy and scipy over arrays of daily counts), ``backtest``
replays a CSV history through it, ``synthetic`` makes the simulated histories that the tests
and ``scripts/bench_insight.py`` measure it on.
"""
