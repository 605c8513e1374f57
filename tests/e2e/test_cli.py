"""mailctl command line: help, unknown commands and options."""
from conftest import mailctl


def test_help_lists_commands():
    p = mailctl("--help")
    for word in ("init", "start", "stop", "status", "check", "user", "alias", "domain"):
        assert word in p.stdout


def test_unknown_command_is_one_line_error():
    p = mailctl("frobnicate", check=False)
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0
    assert "unknown command" in p.stderr and "--help" in p.stderr


def test_unknown_option():
    p = mailctl("--bogus", check=False)
    assert p.returncode != 0 and "unknown option" in p.stderr
