"""Running an experiment, one job a module: the phases in order (run.py), the events listeners
attach to (events.py, listeners.py), the activity wrapper (activities.py), one step
(steps.py), the load (load_control.py), fault timing (scheduler.py), stop conditions
(guards.py), the outcome (outcome.py), the files (outputs.py) and the plan (plan.py, also
`run --dry`)."""
