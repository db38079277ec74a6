"""`gameday run`: the whole game day in one command.

One module per job:

| module | job |
|---|---|
| `selection.py` | which experiment files run (`--experiments`, `--quick`), seeds per experiment |
| `prereqs.py` | what must be installed before anything starts (redis-server, Locust) |
| `stack_process.py` | `gameday up` as a child process on random free ports; its state snapshot |
| `locust_process.py` | the shipped Locust journeys as a child process (headless, or the web UI) |
| `warmup.py` | first request served, one checkout through the whole saga |
| `experiment_phase.py` | one experiment through `chaos.runner`, boiled down to a summary row |
| `headline.py` | detection / recovery times, orders lost, error budget of one experiment |
| `budgets.py` | the game day's time budgets (first request, total, detection, breaker) |
| `estimates.py` | time left: typical durations, corrected by how fast this machine is today |
| `progress.py` | the live status line (TTY) or periodic lines (CI) |
| `teardown.py` | end every fault, check that nothing is left running or bound |
| `results.py` | the result objects and their JSON form (`summary.json`) |
| `plots.py` | SVG panels and the one-picture summary (`summary.svg`) |
| `cells.py` | how each cell of the summary table is written (terminal, HTML, SVG) |
| `report_html.py` | `index.html` |
| `report_files.py` | the report directory: `summary.json`, `junit.xml`, `summary.svg` |
| `terminal.py` | the verdict table printed at the end |
| `orchestrator.py` | the phases in order, signals, `--keep` |

Nothing here imports Locust (its gevent monkey-patching breaks the supervisor's threads):
Locust only ever runs as a child process.
"""
