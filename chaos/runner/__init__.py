"""Running an experiment: the plan (plan.py, also `run --dry`), fault timing (scheduler.py),
stop conditions (guards.py), and the run itself (run.py); the actions it can take are in
chaos/actions.py."""
