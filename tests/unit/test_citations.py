"""Every citation points inside the repository: a person who clones it has what the code cites.

No file cites the design documents that were never part of the repository (their facts are in
docs/design.md now), a docs/*.md path names a file that exists, and every `§N.M` is a section
of the document it follows."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mock_program import ROOT

# Names of documents outside the repository. This file is the one place that names them (and
# its examples below cite sections without a document): the scans skip it.
OUTSIDE = re.compile(r"domain[ -]notes|design[ -]notes|architecture[ -]sketch|\.\./shared|"
                     r"/work/shared", re.IGNORECASE)
DOC_PATH = re.compile(r"\bdocs/[\w./-]+?\.md\b")
SECTION = re.compile(r"(?P<doc>\bdocs/[\w./-]+?\.md)? ?§(?P<number>[\d.]*\d)")
HEADING = re.compile(r"^#+ (\d+(?:\.\d+)*)\.? ", re.MULTILINE)


def repository_texts() -> Iterator[tuple[Path, str]]:
    """Every text file of the checkout, without hidden folders (.git, .venv, caches)."""
    for folder, folders, names in os.walk(ROOT):
        folders[:] = [f for f in folders if not f.startswith(".") and f != "__pycache__"]
        for name in names:
            path = Path(folder, name)
            try:
                yield path, path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # binary, or gone while walking


def test_nothing_cites_documents_outside_the_repository() -> None:
    found = [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
             for path, text in repository_texts() if path != Path(__file__)
             for m in OUTSIDE.finditer(text)]
    assert not found, "cite docs/design.md instead:\n" + "\n".join(found)


def test_cited_docs_exist() -> None:
    missing = sorted({f"{path.relative_to(ROOT)}: {m.group(0)}"
                      for path, text in repository_texts() for m in DOC_PATH.finditer(text)
                      if not (ROOT / m.group(0)).is_file()})
    assert not missing, "\n".join(missing)


def sections(doc: str) -> set[str]:
    return set(HEADING.findall((ROOT / doc).read_text()))


def test_every_section_cited_exists_in_its_document() -> None:
    wrong = []
    for path, text in repository_texts():
        if path == Path(__file__):
            continue  # its examples above
        for m in SECTION.finditer(text):
            where = f"{path.relative_to(ROOT)}: {m.group(0)}"
            if m.group("doc") is None:
                wrong.append(f"{where} (which document?)")
            elif (ROOT / m.group("doc")).is_file() and m.group("number") not in sections(
                    m.group("doc")):
                wrong.append(f"{where} (no such section)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("text", "bad"), [
    ("see domain notes §3", True), ("(design notes §4)", True), ("../shared/x.md", True),
    ("docs/design.md §4.3", False),
])
def test_the_patterns_catch_what_they_are_for(text: str, bad: bool) -> None:
    assert (OUTSIDE.search(text) is not None) is bad
