"""gameday package."""
