"""How the code is cut: one `assay` package, imports that flow one way, one reader of the
environment, and read paths that neither write nor load models."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"ingest": "assay.ingest", "app": "assay.app", "eval": "assay.eval"}


def _modules() -> dict[str, Path]:
    """assay.* module name -> file, for every module of the package."""
    out = {}
    for folder, pkg in FOLDERS.items():
        for f in sorted((ROOT / folder).rglob("*.py")):
            rel = f.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg, *parts])] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The assay.* modules `name` imports (module level and inside functions)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in modules}
    return out - {name}


def test_one_import_package_and_no_generic_top_level_imports():
    for f in list(ROOT.glob("tests/*.py")) + [p for d in FOLDERS for p in (ROOT / d).rglob("*.py")]:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            bad = [n for n in names if n.split(".")[0] in FOLDERS]
            assert not bad, f"{f.relative_to(ROOT)} imports {bad}: use assay.* (or a relative import inside the package)"


def test_imports_flow_one_way_and_have_no_cycles():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    layer = {"assay.ingest": 0, "assay.app": 1, "assay.eval": 2}

    def level(m: str) -> int:
        return layer[".".join(m.split(".")[:2])]

    upward = [(a, b) for a, deps in graph.items() for b in deps if level(b) > level(a)]
    assert not upward, f"imports must flow ingest <- app <- eval: {upward}"
    # no cycles (depth-first search over every import edge, module level or not)
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(d):], d]))
            if d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_settings_is_the_only_reader_of_the_environment():
    allowed = ROOT / "ingest" / "config.py"
    for f in [p for d in FOLDERS for p in (ROOT / d).rglob("*.py")]:
        if f == allowed:
            continue
        text = f.read_text()
        for needle in ("os.environ", "getenv", "environ.get"):
            assert needle not in text, f"{f.relative_to(ROOT)} reads the environment ({needle}); add a Settings field instead"


def test_every_environment_setting_is_in_the_readme_table():
    from assay.ingest.config import env_settings

    readme = (ROOT / "README.md").read_text()
    missing = [name for name, *_ in env_settings() if f"`{name}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


def test_the_built_wheel_has_exactly_one_top_level_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "articles", "runs"))
    res = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("assay-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"assay", next(t for t in tops if t.endswith(".dist-info"))}, tops
    assert not any(n.startswith("assay/__init__") for n in names)  # a namespace package over three folders
    for pkg in ("assay/ingest/index.py", "assay/app/answer.py", "assay/app/chat/layout.py", "assay/eval/run.py", "assay/eval/bench/run.py"):
        assert pkg in names, pkg
    meta = next(n for n in names if n.endswith("entry_points.txt"))
    entry = zipfile.ZipFile(wheel).read(meta).decode()
    assert "assay = assay.app.cli:main" in entry and "eval = assay.eval.cli:register" in entry


_NO_INDEX = """
import json, subprocess, sys
from assay.app.cli import main
code = main(["--index", sys.argv[1], "ask", "What is bastnaesite?"])
heavy = [m for m in ("torch", "sentence_transformers", "chromadb", "transformers") if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_ask_on_a_missing_index_says_what_to_do_creates_nothing_and_loads_no_model(tmp_path):
    where = tmp_path / "typo" / "index"
    res = subprocess.run([sys.executable, "-c", _NO_INDEX, str(where)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["code"] == 2
    assert f"no index at {where}" in res.stderr and "assay ingest corpus/" in res.stderr
    assert out["heavy"] == [], f"a missing index must be reported before {out['heavy']} load"
    assert not (tmp_path / "typo").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["index", "stats"], ["ask", "x?", "--json"]])
def test_read_commands_never_create_an_index(tmp_path, command):
    from assay.app.cli import main

    where = tmp_path / "nothing"
    assert main(["--index", str(where), *command]) == 2
    assert not where.exists()
