"""User journeys: one FastHttpUser class per kind of visitor of the shop."""
