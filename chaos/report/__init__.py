"""Outputs of a run: the JSON journal (journal.py), an HTML report with inline-SVG plots
(html.py, svg.py), JUnit XML (junit.py) and Grafana annotations (grafana.py)."""
