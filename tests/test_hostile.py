"""One `assay ingest` over a folder of hostile inputs (tests/hostile.py): it finishes, names every bad
file with its reason, indexes and answers from the good ones, leaves no partial chunks, and keeps time
and memory bounded on huge inputs.

The folder run is a real `assay ingest --json` subprocess. As root it runs as `nobody` (via setpriv)
so that the unreadable-file case means something; without setpriv that one case is not asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from assay.ingest.article import LoadError
from assay.ingest.config import Settings
from assay.ingest.index import Index
from assay.ingest.load import load_article
from tests.hostile import Case, by_status, make_hostile, resave_with_whitespace

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOBODY = 65534


def _nobody_can_run_assay() -> bool:
    """As root, drop to `nobody` only if it can reach this checkout and its venv (a clone inside a
    0700 folder, as `mktemp -d` makes, cannot be entered by `nobody`)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
             str(BIN / "python"), "-c", "import assay.app.cli"]
    try:
        return subprocess.run(probe, capture_output=True, cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)},
                              timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


CAN_DROP = _nobody_can_run_assay()
NON_ROOT = os.geteuid() != 0 or CAN_DROP  # will the ingest run without root's read-anything power?


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", ANONYMIZED_TELEMETRY="False",
               TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT), **extra)
    return env


def _ingest(folder: Path, index: Path, home: Path) -> tuple[dict, int, float]:
    cmd = [str(BIN / "assay"), "--index", str(index), "ingest", "--json", str(folder)]
    if CAN_DROP:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *cmd]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(home), cwd=str(home), timeout=1200)
    took = time.perf_counter() - t
    assert r.returncode in (0, 1), f"ingest crashed (exit {r.returncode}):\n{r.stderr[-4000:]}"
    return json.loads(r.stdout), r.returncode, took


def _open_to_nobody(base: Path) -> None:
    """Let `nobody` read the inputs and write the index/home (pytest's tmp dirs are root-only)."""
    for dirpath, dirnames, filenames in os.walk(base):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink() and p.is_file() and p.name != "unreadable.md":
                p.chmod(0o644)
    for d in ("index", "home"):
        (base / d).mkdir(exist_ok=True)
        if CAN_DROP:
            os.chown(base / d, NOBODY, NOBODY)


@pytest.fixture(scope="module")
def hostile():
    base = Path(tempfile.mkdtemp(prefix="assay-hostile-", dir="/tmp"))
    try:
        folder, heavy = base / "in", base / "heavy"
        t = time.perf_counter()
        cases = make_hostile(folder, heavy=heavy)
        made = time.perf_counter() - t
        _open_to_nobody(base)
        first, code, took1 = _ingest(folder, base / "index", base / "home")
        resave_with_whitespace(folder)
        second, code2, took2 = _ingest(folder, base / "index", base / "home")
        print(f"\nhostile folder: {len(cases)} cases, made in {made:.1f} s; ingest {took1:.1f} s, re-run {took2:.1f} s")
        yield dict(base=base, folder=folder, heavy=heavy, cases=cases, first=first, second=second, code=code,
                   settings=Settings(index_dir=base / "index"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _rel(folder: Path, shown: str) -> str:
    return Path(shown).relative_to(folder).as_posix()


def _asserted(c: Case) -> bool:
    return NON_ROOT or not c.needs_non_root


def test_generator_covers_enough_distinct_inputs(hostile):
    cases = hostile["cases"]
    assert len({c.name for c in cases}) >= 25
    assert {"failed", "ok", "skipped", "ignored"} <= {c.status for c in cases}


def test_every_bad_file_is_named_with_its_reason(hostile):
    folder, first = hostile["folder"], hostile["first"]
    failed = {_rel(folder, f): why for f, why in first["failed"]}
    expected = {c.name: c for c in by_status(hostile["cases"], "failed") if _asserted(c)}
    unasserted = {c.name for c in hostile["cases"] if not _asserted(c)}
    unexpected = {n: why for n, why in failed.items() if n not in expected and n not in unasserted}
    assert not unexpected, f"files that should have been indexed failed: {unexpected}"
    missing = sorted(set(expected) - set(failed))
    assert not missing, f"bad files not reported: {missing}"
    for name, c in expected.items():
        assert c.expect.lower() in failed[name].lower(), (name, c.note, failed[name])
        assert "\n" not in failed[name] and len(failed[name]) < 300, failed[name]


def test_exit_code_is_1_when_files_failed(hostile):
    # `assay ingest --help`: "Exit code is 1 when any file failed" — after the whole folder was processed.
    assert hostile["code"] == 1


def test_good_files_are_indexed_and_answerable(hostile):
    from assay.app.retrieve import Engine

    folder, first, cases = hostile["folder"], hostile["first"], hostile["cases"]
    ok = [c.name for c in by_status(cases, "ok")]
    unasserted = {c.name for c in cases if not _asserted(c)}  # as root, the unreadable file is readable
    assert sorted(a for a in first["added"] if a not in unasserted) == sorted(ok)
    ignored = {c.name for c in by_status(cases, "ignored")} | {"dir.md"}
    reported = {_rel(folder, f) for f, _ in first["failed"] + first["skipped"]} | set(first["added"])
    assert not (ignored & reported)
    engine = Engine(hostile["settings"])
    misses = []
    for c in by_status(cases, "ok"):
        question, needle = c.probe
        hits = engine.retrieve(question, k=6)
        if not any(p.article_id == c.name and needle in p.text for p in hits):
            misses.append((c.name, question, [p.article_id for p in hits]))
    assert not misses, misses


def test_no_partial_chunks_of_failed_files_and_no_orphans(hostile):
    folder, first, second = hostile["folder"], hostile["first"], hostile["second"]
    index = Index(hostile["settings"])
    got = index.chunks.get(include=["metadatas"])
    by_article: dict[str, int] = {}
    for meta in got["metadatas"]:
        by_article[meta["article_id"]] = by_article.get(meta["article_id"], 0) + 1
    manifest = index.manifest()
    bad = {_rel(folder, f) for f, _ in first["failed"] + first["skipped"] + second["failed"] + second["skipped"]}
    assert not (bad & set(by_article)), f"chunks of failed/skipped files: {bad & set(by_article)}"
    assert not (bad & set(manifest))
    assert set(by_article) == set(manifest), "chunks without a record, or records without chunks"
    for aid, rec in manifest.items():
        assert rec["n_chunks"] == by_article[aid], aid
    # Large inputs were bounded: every chunk fits the model.
    assert max(m["n_tokens"] for m in got["metadatas"]) <= 256


def test_duplicates_indexed_once_and_whitespace_resave_unchanged(hostile):
    folder, first, second = hostile["folder"], hostile["first"], hostile["second"]
    skipped = {_rel(folder, f): why for f, why in first["skipped"]}
    for c in by_status(hostile["cases"], "skipped"):
        assert c.expect in skipped.get(c.name, ""), (c.name, skipped)
    assert "resave.md" in second["unchanged"]
    assert not second["added"] and not second["updated"] and second["chunks_written"] == 0
    assert {_rel(folder, f) for f, _ in second["failed"]} == {_rel(folder, f) for f, _ in first["failed"]}


def test_oversized_file_is_refused_before_it_is_opened(hostile, monkeypatch):
    big = hostile["folder"] / "huge-50mb.txt"
    assert big.stat().st_size == 50 * 1024 * 1024
    real_open = os.open

    def guarded(path, *a, **kw):
        assert Path(path) != big, "the oversized file was opened"
        return real_open(path, *a, **kw)

    monkeypatch.setattr(os, "open", guarded)
    with pytest.raises(LoadError) as info:
        load_article(big, max_bytes=int(Settings().max_file_mb * 1024 * 1024))
    assert info.value.reason == "file is 50.0 MB, over the 25 MB limit — raise ASSAY_MAX_FILE_MB or split it"


@pytest.mark.parametrize("name,limit_s", [
    ("markup-20mb.html", 30), ("nested-100k.html", 10), ("unclosed-scripts.html", 30), ("deep-quotes.md", 10), ("giant-heading.md", 10),
    ("long-line.txt", 10),
])
def test_pathological_inputs_load_in_bounded_time(hostile, name, limit_s):
    t = time.perf_counter()
    art = load_article(hostile["folder"] / name, root=hostile["folder"])
    took = time.perf_counter() - t
    assert took < limit_s, f"{name} took {took:.1f} s"
    assert max(b.end - b.start for b in art.blocks) <= 100_000
    assert all(len(art.text[b.start:b.end]) <= 200 for b in art.blocks if b.kind == "heading")


# ---------------------------------------------------------------- huge files: bounded memory

# Peak RSS: VmHWM of this process's own memory map. ru_maxrss would do on a fresh process, but Linux
# carries it across fork+exec, so a child of a big pytest process starts with pytest's peak.
_MEASURE = r"""
import json, resource, sys, time
from assay.ingest.config import Settings


def peak_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

from assay.ingest.embed import load_model
from assay.ingest.load import load_article
from assay.ingest.split import TokenCounter, split_article

settings = Settings.from_env()
model = load_model(settings.model)
counter = TokenCounter(model.tokenizer, int(model.max_seq_length))
counter.counts(["warm the tokenizer up"])
before = peak_kb()
t = time.perf_counter()
art = load_article(sys.argv[1], max_bytes=int(settings.max_file_mb * 1024 * 1024))
loaded = time.perf_counter() - t
after_load = peak_kb()
chunks = split_article(art, counter, settings.chunk_tokens, settings.overlap_sentences)
took = time.perf_counter() - t
after = peak_kb()
print(json.dumps({
    "load_mb": (after_load - before) / 1024, "growth_mb": (after - before) / 1024, "seconds": took,
    "load_seconds": loaded, "chunks": len(chunks), "max_tokens": max(c.n_tokens for c in chunks),
    "limit": counter.limit, "slices": all(art.text[c.start:c.end] == c.text for c in chunks[::97]),
    "first": art.text.split()[0], "last": art.text.split()[-1],
    "covers": art.text.split()[0] in chunks[0].text and art.text.split()[-1] in chunks[-1].text,
    "max_block": max(b.end - b.start for b in art.blocks), "peak_mb": after / 1024,
    "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _measure(path: Path, **env) -> dict:
    home = Path(tempfile.mkdtemp(prefix="assay-measure-"))
    try:
        r = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True,
                           env=_env(home, **env), cwd=str(ROOT), timeout=900)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert r.returncode == 0, r.stderr[-4000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\n{path.name}: {out}")
    return out


def test_two_megabyte_single_line_is_cut_in_bounded_time_and_memory(hostile):
    out = _measure(hostile["heavy"] / "oneline-2mb.txt")
    assert out["seconds"] < 60 and out["growth_mb"] < 500, out
    assert out["max_tokens"] <= out["limit"] and out["slices"] and out["covers"], out
    assert out["max_block"] <= 100_000 and out["chunks"] > 2000


@pytest.mark.slow
def test_fifty_megabyte_file_with_raised_limit_is_split_in_bounded_memory(hostile):
    out = _measure(hostile["folder"] / "huge-50mb.txt", ASSAY_MAX_FILE_MB="60")
    assert out["growth_mb"] < 1536, f"peak RSS grew {out['growth_mb']:.0f} MB for a 50 MB file: {out}"
    assert out["load_mb"] < 600, out
    assert out["max_tokens"] <= out["limit"] and out["slices"] and out["covers"], out


# ---------------------------------------------------------------- legacy encodings

@pytest.mark.parametrize("encoding,text", [
    ("cp1252", "Café minerals. The smelter in Montréal refines cérium oxide for export to Zürich — “fast”."),
    ("latin-1", "Die Größe der Mühle in München überrascht die Straße."),
    ("cp1251", "Редкоземельные металлы добывают в Ловозере и отправляют на завод."),
    ("cp1250", "Zażółć gęślą jaźń. Łódź kupuje neodym z Chin."),
    ("cp1253", "Οι σπάνιες γαίες εξάγονται από την Κίνα προς την Ευρώπη."),
])
def test_legacy_encodings_are_not_misread(tmp_path, encoding, text):
    # Found by the hostile folder: a short latin-1 text came back as Baltic cp775 ("Montrķal").
    f = tmp_path / "legacy.txt"
    f.write_bytes(text.encode(encoding))
    assert load_article(f).text == text
