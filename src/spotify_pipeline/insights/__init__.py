"""Read-only views of the warehouse: what the user's record holds and how complete it is."""
