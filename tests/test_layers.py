"""The layer list in README.md ("Where each layer lives") is the import rule, checked against the code.

Every module of vidinterp/ and benchmarks/ belongs to one entry of the list; its imports (parsed with `ast`:
module-level, function-local and TYPE_CHECKING ones, and the module names of lazy `_EXPORTS` tables) may reach
only its own entry, the base modules and what its entry names after "imports:", all of which must come before
it in the list, so the list is also an order without cycles.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADING = "Where each layer lives, lowest first."
EVERYTHING_ABOVE = "everything above"


@dataclass
class Entry:
    index: int
    members: list[str]  # repo-relative folders ("vidinterp/io") and modules ("vidinterp/labels.py")
    imports: list[str]  # as written after "imports:" ("io", "pipeline/threads.py"; "-" or empty for none)
    text: str = field(repr=False)


def parse_layers(readme: str) -> list[Entry]:
    """The entries of the fenced block after the layer paragraph, lowest first."""
    after = readme[readme.index(HEADING) :]
    block = re.search(r"^```\n(.*?)^```", after, re.S | re.M).group(1)
    chunks: list[list[str]] = []
    for line in block.splitlines():
        if line and not line[0].isspace():
            chunks.append([line])
        elif line.strip():
            chunks[-1].append(line)
    entries = []
    for index, lines in enumerate(chunks):
        paths = re.match(r"[^\s,]+(?:, [^\s,]+)*", lines[0]).group(0).split(", ")
        folder = paths[0].rsplit("/", 1)[0] if not paths[0].endswith("/") else paths[0].rstrip("/")
        members = [paths[0].rstrip("/")] + [f"{folder}/{path}".rstrip("/") for path in paths[1:]]
        text = " ".join(line.strip() for line in lines)
        clause = re.search(r"imports:(.*)$", text)
        assert clause, f"layer list entry {paths[0]} says nothing after 'imports:'"
        items = [item.strip() for item in clause.group(1).split(",")]
        entries.append(Entry(index, members, [item for item in items if item not in ("", "-")], text))
    return entries


def module_files() -> list[str]:
    return sorted(
        str(path.relative_to(REPO)) for folder in ("vidinterp", "benchmarks") for path in (REPO / folder).rglob("*.py")
    )


def module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, files: set[str]) -> str | None:
    """The repo-relative file of module `name` ("vidinterp.io.reader"), or None when there is none."""
    base = name.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in files:
            return candidate
    return None


def imported_modules(path: str, source: str, files: set[str]) -> list[tuple[int, str]]:
    """(line, module name) of every vidinterp module `source` imports, wherever the import statement is."""
    package = module_name(path) if path.endswith("__init__.py") else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                # `from vidinterp.train import checkpoint` imports the module vidinterp.train.checkpoint
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if module_file(submodule, files) else base))
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            if isinstance(node.value, ast.Dict):  # lazy exports: name -> the module imported on first use
                found += [
                    (node.lineno, value.value)
                    for value in node.value.values
                    if isinstance(value, ast.Constant) and isinstance(value.value, str)
                ]
    wanted = [(line, name) for line, name in found if name == "vidinterp" or name.startswith("vidinterp.")]
    return sorted(set(wanted))


def violations(entries: list[Entry], sources: dict[str, str]) -> list[str]:
    """What breaks the rule: modules outside the list, entries naming what is not above them, forbidden imports."""
    files = set(sources)
    problems = []
    members = {member: entry for entry in entries for member in entry.members}

    def owner(path: str) -> str | None:
        """The member a file belongs to: its own module entry, else the deepest folder entry holding it."""
        if path in members:
            return path
        folders = [m for m in members if not m.endswith(".py") and path.startswith(m + "/")]
        return max(folders, key=len) if folders else None

    for member in members:
        if member not in files and not any(f.startswith(member + "/") for f in files):
            problems.append(f"layer list names {member}, which does not exist")
    allowed: dict[int, set[str]] = {}
    for entry in entries:
        allowed[entry.index] = set()
        for item in entry.imports:
            if item == EVERYTHING_ABOVE:
                allowed[entry.index] |= {m for e in entries[: entry.index] for m in e.members}
                continue
            target = f"vidinterp/{item}".rstrip("/")
            if not target.endswith(".py") and target not in members:
                target += ".py"  # "labels" names vidinterp/labels.py
            holder = owner(target) if target.endswith(".py") else target
            if holder is None:
                problems.append(f"layer list entry {entry.members[0]} names {item!r}, which is not in the list")
            elif members[holder].index >= entry.index:
                problems.append(f"layer list entry {entry.members[0]} names {item!r}, which is not above it")
            else:
                allowed[entry.index].add(target)
    for path, source in sorted(sources.items()):
        mine = owner(path)
        if mine is None:
            problems.append(f"{path} is in no entry of the layer list")
            continue
        entry = members[mine]
        for line, name in imported_modules(path, source, files):
            target = module_file(name, files)
            if target is None:
                problems.append(f"{path}:{line} imports {name}, which is no module here")
                continue
            theirs = owner(target)
            if theirs is None or members[theirs].index in (0, entry.index):
                continue  # base modules, or the importer's own entry (a missing owner is reported above)
            if theirs in allowed[entry.index] or target in allowed[entry.index]:
                continue
            problems.append(
                f"{path}:{line} imports {name} ({theirs}), which the layer list does not allow for "
                f"{mine} (imports: {', '.join(entry.imports) or '-'})"
            )
    return problems


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return parse_layers((REPO / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {path: (REPO / path).read_text(encoding="utf-8") for path in module_files()}


def test_the_imports_follow_the_readme_layer_list(entries, sources):
    problems = violations(entries, sources)
    assert not problems, "imports and README.md's layer list disagree:\n" + "\n".join(problems)


def test_the_list_is_read_as_written(entries):
    """The parser sees the entries a reader sees (a parse that found nothing would check nothing)."""
    by_member = {member: entry for entry in entries for member in entry.members}
    assert entries[0].members == [
        f"vidinterp/{name}.py" for name in ("errors", "methods", "lazy", "signals", "version", "execution/settings")
    ]
    assert by_member["vidinterp/losses"].imports == ["models", "ops"]
    assert by_member["vidinterp/api"].imports == [EVERYTHING_ABOVE]
    assert by_member["vidinterp/cli"].index > by_member["vidinterp/api"].index > by_member["vidinterp/bench"].index
    assert len(entries) >= 18


@pytest.mark.parametrize(
    "path, source, says",
    [
        ("vidinterp/io/fake.py", "def f():\n    from vidinterp.cli import main\n", "imports vidinterp.cli"),
        (
            "vidinterp/models/fake.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vidinterp.pipeline.engine\n",
            "imports vidinterp.pipeline.engine",
        ),
        (
            "vidinterp/evaluate/fake.py",
            "from vidinterp import __version__\n",
            "imports vidinterp (vidinterp/__init__.py)",
        ),
        ("vidinterp/data/fake.py", "_EXPORTS = {'x': 'vidinterp.train.config'}\n", "imports vidinterp.train.config"),
        ("vidinterp/cli/fake.py", "from vidinterp.bench import ops\n", "imports vidinterp.bench.ops"),
        ("vidinterp/stray.py", "", "vidinterp/stray.py is in no entry"),
    ],
    ids=["function-local", "type-checking", "package root", "lazy export", "cli past the api", "unlisted module"],
)
def test_a_violation_is_reported(entries, sources, path, source, says):
    problems = violations(entries, {**sources, path: source})
    assert any(says in problem for problem in problems), problems
