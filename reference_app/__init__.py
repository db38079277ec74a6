"""reference_app package."""
