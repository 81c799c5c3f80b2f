"""The contributor docs point only at files inside the repository, and those exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"(?<![\w.])\.\./[\w./-]+")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_links_stay_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert not OUTSIDE.findall(text), f"{doc.name} points outside the repository"
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name}: {target} is outside the repository"
        assert path.exists(), f"{doc.name}: {target} does not exist"


def test_developers_guide_names_the_in_repo_design_and_style() -> None:
    text = (ROOT / "DEVELOPERS.md").read_text()
    assert "(docs/architecture.md)" in text and "(docs/style.md)" in text
    assert (ROOT / "docs" / "style.md").read_text().startswith("# House style")
