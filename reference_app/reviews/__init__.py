"""The reviews service: reviews and likes with a COUNTS row kept in the same transaction."""
