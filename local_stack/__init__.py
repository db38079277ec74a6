"""local_stack package."""
