"""Prefect flows: the escalation sweep, notification delivery and the worker that drives them."""
