"""Every command explains itself."""

import click
from click.testing import CliRunner

from assay.app.cli import cli


def _commands(group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group also lists plugin commands (eval, bench)
        cmd = group.get_command(ctx, name)
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_useful_help():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0 and "assay ingest corpus/" in top.output
    names = [path for path, _ in _commands(cli)]
    assert {("ingest",), ("ask",), ("chat",), ("eval",), ("index", "stats")} <= set(names)
    for path, cmd in _commands(cli):
        r = runner.invoke(cli, [*path, "--help"])
        assert r.exit_code == 0, path
        assert cmd.help and len(cmd.help.strip()) > 20, f"{' '.join(path)} has no real help text"
        assert "Usage:" in r.output


def test_errors_say_what_to_do_next(tmp_path):
    from assay.app.cli import main

    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--index", str(tmp_path / "none"), "ask", "anything?"])
    assert code == 2 and "assay ingest corpus/" in err.getvalue()
