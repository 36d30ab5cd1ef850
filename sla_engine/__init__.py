"""The SLA engine: pure functions of (policy, case state, now) -> new state + events.

No I/O, no clock of its own, no SQL, no HTTP, no Prefect: everything it needs comes in as values, so
the same inputs always give the same outputs and an auditor can replay any case.
"""
