"""The docs stay true to the code: every package is in the design, no citation leaves the clone."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "station"
SOURCES = ("station", "tests", "firmware", "benchmarks", "calibration", "captures")
SUFFIXES = {".py", ".c", ".cpp", ".h", ".md", ".toml"}


def _packages() -> list[str]:
    """Every subpackage of `station`, as its folder path (`station/models/parametric/`)."""
    return sorted(
        f"{init.parent.relative_to(PACKAGE.parent).as_posix()}/"
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE
    )


def test_the_design_names_every_package() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    architecture = design.split("## 5. Architecture", 1)[1].split("## 6.", 1)[0]
    missing = [
        p
        for p in _packages()
        # a nested package may be named by its parent's row (`parametric/` under models)
        if p not in architecture and f"`{p.rstrip('/').rsplit('/', 1)[1]}/`" not in architecture
    ]
    assert _packages(), "no packages found: the walk is broken"
    assert not missing, f"docs/design.md §5 does not name {missing}"


def _files(folders: tuple[str, ...]) -> list[Path]:
    """The text files of `folders` that can cite a document (no venv, no build output)."""
    return [
        path
        for folder in folders
        for path in (ROOT / folder).rglob("*")
        if path.suffix in SUFFIXES and ".venv" not in path.parts and "build" not in path.parts
    ]


def test_every_docs_page_the_code_cites_exists() -> None:
    cited: set[str] = set()
    for path in _files(SOURCES):
        cited |= set(re.findall(r"docs/([a-z0-9-]+\.md)", path.read_text(errors="replace")))
    assert cited, "no citation of docs/ found: the walk is broken"
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert not missing, f"cited but not in docs/: {missing}"


def test_nothing_cites_documents_outside_the_clone() -> None:
    # ../shared/namcore is data, not a document: NAM's core snapshots, which the players'
    # tests build from where the machine keeps them (tests/namcore/core.py).
    outside = re.compile(
        r"\.\./shared(?!/namcore)|SERVO-PROTOCOL\.md|NAM-FACTS\.md|AVR-FACTS\.md|DESIGN §"
    )
    hits = []
    for path in [*_files((*SOURCES, "docs")), ROOT / "README.md"]:
        if path == Path(__file__).resolve():
            continue  # this test spells the patterns out
        hits += [
            f"{path.relative_to(ROOT)}:{n}"
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
            if outside.search(line)
        ]
    assert not hits, f"citations outside the repository: {hits}"
