"""The HTTP API (FastAPI): routes, auth dependencies and problem+json errors. Calls casework only."""
