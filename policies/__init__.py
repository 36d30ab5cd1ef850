"""The policy language: bundled policies and calendars, the JSON Schemas, the loader and the linter.

Never imports models, api, flows or casework.
"""
