"""`report_console` on stderr follows the shared console's `quiet`; on stdout, a result, it never does."""

from rlgen.logging import console, report_console


def test_a_report_on_stderr_is_as_quiet_as_the_console(monkeypatch, capsys):
    monkeypatch.setattr(console, "quiet", True)  # a script that silenced rlgen's lines, or a stderr reader gone
    report_console(stderr=True).print("a sweep's status table")
    report_console().print("a command's result")
    said = capsys.readouterr()
    assert said.err == "" and said.out == "a command's result\n"
    monkeypatch.setattr(console, "quiet", False)
    report_console(stderr=True).print("a sweep's status table")
    assert capsys.readouterr().err == "a sweep's status table\n"
