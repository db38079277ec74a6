"""Running an experiment: the plan (plan.py, also `run --dry`), fault timing (scheduler.py),
stop conditions (guards.py), actions (actions.py), and the run itself (run.py)."""
