"""What the creator reads, per language: one JSON file per language under ``locales/`` (adding a
language is adding a file with the same keys as ``en.json``), the choice of language for a request,
and policy texts given as a string or a map language -> string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"


@cache
def _catalogues() -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(LOCALES_DIR.glob("*.json"))}


def languages() -> tuple[str, ...]:
    """The languages there is a file for, e.g. ("en", "it")."""
    return tuple(_catalogues())


def catalogue(language: str) -> dict[str, str]:
    """Every text in ``language`` (English for a key or a language without a file)."""
    found = _catalogues()
    return {**found[DEFAULT_LANGUAGE], **found.get(language, {})}


def choose_language(query: str | None, accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """``?lang=`` when it names a known language, else the best of Accept-Language, else ``default``
    (English, or the creator's own language when the caller knows it)."""
    known = languages()
    if query and query.lower() in known:
        return query.lower()
    for tag, _quality in _ranked(accept_language or ""):
        base = tag.split("-")[0]
        if base in known:
            return base
    return default if default in known else DEFAULT_LANGUAGE


def _ranked(header: str) -> list[tuple[str, float]]:
    """Accept-Language's tags, best first (``it-IT,it;q=0.9,en;q=0.5``)."""
    tags: list[tuple[str, float]] = []
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            tags.append((tag.strip().lower(), quality))
    return sorted(tags, key=lambda item: -item[1])


def localized(text: Any, language: str, fallback: str | None = None) -> str | None:
    """A policy's ``creator_title`` / ``creator_text``: a string as is; from a map, the language's
    entry, else English, else any; ``fallback`` when absent."""
    if isinstance(text, str):
        return text
    if isinstance(text, Mapping) and text:
        for key in (language, DEFAULT_LANGUAGE):
            if isinstance(text.get(key), str):
                return str(text[key])
        return str(next(iter(text.values())))
    return fallback


def creator_language(attributes: Mapping[str, Any]) -> str:
    """The language to write to a creator in: ``attributes.creator.language`` if known, else English."""
    creator = attributes.get("creator")
    wanted = creator.get("language") if isinstance(creator, Mapping) else None
    return wanted if isinstance(wanted, str) and wanted in languages() else DEFAULT_LANGUAGE
