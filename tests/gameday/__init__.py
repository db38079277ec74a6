"""Tests of `gameday run`: arguments, progress, headline numbers, the report, end to end."""
