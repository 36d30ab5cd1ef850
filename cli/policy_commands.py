"""`lifeline policies validate|lint` (placeholder until the loader lands)."""
