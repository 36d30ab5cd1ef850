"""Prefect flows: the escalation sweep, notification delivery and the worker that drives them.

Importing this package applies Lifeline's Prefect defaults (``flows.prefect_settings``) before any
module here imports Prefect, which reads its settings once, at import.
"""

from flows.prefect_settings import apply_prefect_defaults

apply_prefect_defaults()
