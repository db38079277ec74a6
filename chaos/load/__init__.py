"""Load during an experiment: a small built-in shopper loop (per-request records, the orders it
placed) or Locust as a process (its own statistics, read by locust_stats.py)."""
