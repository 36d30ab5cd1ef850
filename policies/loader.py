"""Loading policies: read (at most 1 MiB), parse JSON, validate against the schema, lint, build.

Syntax comes first (line and column): nothing else can run on a file that does not parse. Then the
schema and the semantic lint in one pass: the lint runs on every part of the document that passed the
schema, so a schema error and an unknown calendar are reported together, each with its pointer.
Bad input never raises from the ``check_*`` functions: they return a LoadResult with the
diagnostics. The ``load_*`` conveniences raise PolicyError (carrying every diagnostic) instead.

Calendars are given as a mapping name -> Calendar (``None``: the bundled calendars plus ``always``);
channels as a collection of names (``None``: not checked, for lack of a channels file).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.calendars import bundled_calendars_dir, calendars_from, check_calendar_dir
from policies.diagnostics import Diagnostic, LoadResult, PolicyError, Severity
from policies.documents import parse_json_text, read_text_file
from policies.json_lines import with_lines
from policies.json_schemas import SchemaName, validate
from policies.lint import lint_policy, lintable_parts
from policies.model import Calendar, Policy
from policies.policy_builder import build_policy

Calendars = Mapping[str, Calendar]


def bundled_policies_dir() -> Path:
    """The folder of the bundled policies (``policies/*.json``; calendars in its ``calendars/``)."""
    return Path(__file__).resolve().parent


def bundled_calendars() -> dict[str, Calendar]:
    """The bundled calendars by name, plus ``always``; invalid bundled files are left out."""
    return calendars_from(check_calendar_dir(bundled_calendars_dir()))


def check_policy_document(
    doc: object, file: str, calendars: Calendars | None = None, channels: Collection[str] | None = None
) -> LoadResult[Policy]:
    """Validate, lint and build an already parsed document."""
    known = calendars if calendars is not None else bundled_calendars()
    problems = validate(doc, SchemaName.POLICY, file)
    if problems:
        # One pass: lint every part that passed the schema, so both kinds of error show at once.
        parts, usable = lintable_parts(doc, problems)
        lint = lint_policy(parts, file, set(known), channels, usable)
        problems = sorted([*problems, *lint], key=lambda d: (d.pointer, d.message))
    else:
        assert isinstance(doc, dict)  # the schema requires an object
        problems = lint_policy(doc, file, set(known), channels)
    if any(d.severity is Severity.ERROR for d in problems):
        return LoadResult(file, None, tuple(problems))
    assert isinstance(doc, dict)
    return LoadResult(file, build_policy(doc), tuple(problems))


def check_policy_text(
    text: str, file: str, calendars: Calendars | None = None, channels: Collection[str] | None = None
) -> LoadResult[Policy]:
    """As :func:`check_policy_document`, from JSON text (an API body, a stored canonical document)."""
    doc, problems = parse_json_text(text, file)
    if problems:
        return LoadResult(file, None, tuple(problems))
    return _with_lines(check_policy_document(doc, file, calendars, channels), text)


def _with_lines(result: LoadResult[Policy], text: str) -> LoadResult[Policy]:
    """Each diagnostic with the line of its pointer in ``text``."""
    return LoadResult(result.file, result.value, tuple(with_lines(result.diagnostics, text)))


def check_policy_file(
    path: Path,
    calendars: Calendars | None = None,
    channels: Collection[str] | None = None,
    label: str | None = None,
) -> LoadResult[Policy]:
    """Read and check one policy file (refused above 1 MiB); ``label`` names it in diagnostics."""
    name = label if label is not None else str(path)
    text, problems = read_text_file(path, name)
    if text is None:
        return LoadResult(name, None, tuple(problems))
    return check_policy_text(text, name, calendars, channels)


def _value_or_raise(result: LoadResult[Policy]) -> Policy:
    if result.value is None:
        raise PolicyError(result.diagnostics)
    return result.value


def parse_policy_text(
    text: str, label: str, calendars: Calendars | None = None, channels: Collection[str] | None = None
) -> Policy:
    """The Policy of JSON ``text``; PolicyError listing every error when it is not valid."""
    return _value_or_raise(check_policy_text(text, label, calendars, channels))


def load_policy_file(
    path: Path, calendars: Calendars | None = None, channels: Collection[str] | None = None
) -> Policy:
    """The Policy of one file; PolicyError listing every error when it is not valid."""
    return _value_or_raise(check_policy_file(path, calendars, channels))


def policy_files(directory: Path) -> list[Path]:
    """The policy files of a folder: its ``*.json`` files, sorted (``calendars/`` is not included)."""
    return sorted(p for p in directory.glob("*.json") if p.is_file())


def calendars_for(directory: Path) -> tuple[dict[str, Calendar], list[Diagnostic]]:
    """The calendars policies in ``directory`` may use: its ``calendars/`` folder when present, else the
    bundled ones; with the diagnostics of that folder's calendar files."""
    own = directory / "calendars"
    results = check_calendar_dir(own if own.is_dir() else bundled_calendars_dir())
    return calendars_from(results), [d for r in results for d in r.diagnostics]


@dataclass(frozen=True)
class CheckedPaths:
    """What one walk over policy files and folders found: every diagnostic (errors and warnings, in
    file order) and every policy that loaded, with the file it came from."""

    diagnostics: list[Diagnostic]
    policies: list[tuple[str, Policy]]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]


def check_policy_paths(paths: Sequence[Path], channels: Collection[str] | None = None) -> CheckedPaths:
    """Read and check each policy of ``paths`` once. A folder means its ``*.json`` files with the
    calendars of its ``calendars/`` folder (themselves checked), else the bundled calendars; a
    single file uses the calendars next to it the same way. Policy ids must be unique across all."""
    found: list[Diagnostic] = []
    loaded: list[tuple[str, Policy]] = []
    calendar_sets: dict[Path, dict[str, Calendar]] = {}
    ids: dict[str, str] = {}
    for path in paths:
        for file in _files(path, found):
            folder = file.parent.resolve()
            if folder not in calendar_sets:
                calendar_sets[folder], problems = calendars_for(folder)
                found += problems
            result = check_policy_file(file, calendar_sets[folder], channels, label=str(file))
            found += result.diagnostics
            if result.value is None:
                continue
            first = ids.setdefault(result.value.id, str(file))
            if first != str(file):
                found.append(
                    Diagnostic(str(file), "/id", f"policy id {result.value.id!r} is also used by {first}")
                )
            loaded.append((str(file), result.value))
    return CheckedPaths(found, loaded)


def _files(path: Path, found: list[Diagnostic]) -> list[Path]:
    if path.is_dir():
        files = policy_files(path)
        if not files:
            found.append(Diagnostic(str(path), "", "no policy files (*.json) in this folder"))
        return files
    if path.is_file():
        return [path]
    found.append(Diagnostic(str(path), "", "no such file or folder"))
    return []


def load_policy_dir(
    directory: Path | None = None, channels: Collection[str] | None = None
) -> dict[str, Policy]:
    """Every policy of ``directory`` (default: the bundled ones) by id.

    Calendars come from ``directory/calendars`` (else the bundled ones). Raises PolicyError listing
    every error of every file (calendars included), duplicate policy ids, and a folder without any.
    """
    checked = check_policy_paths([directory if directory is not None else bundled_policies_dir()], channels)
    if checked.errors:
        raise PolicyError(checked.errors)
    return {policy.id: policy for _, policy in checked.policies}
