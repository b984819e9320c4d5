"""docs/commands.md lists, for every command of ser_ref/commands/, exactly the options its parser has.

Each command's parser is caught as the command builds it: ``argparse.ArgumentParser.parse_args`` is
replaced by a stand-in that raises with the parser (a BaseException, so the commands' error
handling lets it through), and the command's ``main([])`` is called. Its options (each action's
long name; a positional argument by its upper-case name) are compared with the first code span of
each row of the command's table, which sits between ``<!-- options: NAME -->`` and
``<!-- end options -->`` in docs/commands.md.

After a command gains or loses an option, rewrite the tables (the text around them is kept):

    python tests/test_docs_options.py --write
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "commands.md"
COMMANDS = sorted(p.stem for p in (ROOT / "ser_ref" / "commands").glob("*.py")
                  if p.stem not in ("__init__", "common"))
TABLE = re.compile(r"<!-- options: (\w+) -->\n(.*?)<!-- end options -->", re.S)


class _Caught(BaseException):
    """Carries the parser out of the command (BaseException: ``cli_main`` catches Exception only)."""

    def __init__(self, parser):
        super().__init__(parser.prog)
        self.parser = parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser ``python -m ser_ref.<name>`` builds (for a command with sub-commands, the one of
    its sub-command: export's ``export``)."""
    module = importlib.import_module(f"ser_ref.commands.{name}")

    def catch(self, args=None, namespace=None):
        raise _Caught(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = catch
    try:
        module.main([])
    except _Caught as caught:
        parser = caught.parser
    else:
        raise AssertionError(f"ser_ref.commands.{name}.main([]) returned without parsing its arguments")
    finally:
        argparse.ArgumentParser.parse_args = original
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        (only,) = subs[0].choices.values()  # one sub-command (export) is documented as the command
        return only
    return parser


def _actions(parser):
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def option_name(action) -> str:
    """``--model-file`` for an option (its longest spelling), ``FILE`` for a positional argument."""
    if action.option_strings:
        return max(action.option_strings, key=len)
    return (action.metavar or action.dest).upper()


def parser_options(name: str) -> list[str]:
    return [option_name(a) for a in _actions(command_parser(name))]


def doc_tables(text: str) -> dict[str, list[str]]:
    """command -> the option (first word of the first code span) of each row of its table."""
    tables = {}
    for name, body in TABLE.findall(text):
        rows = [line for line in body.splitlines() if line.startswith("| `")]
        tables[name] = [re.match(r"\| `([^` ]+)", row).group(1) for row in rows]
    return tables


def table(name: str) -> str:
    """The markdown table of a command's options, from its parser (usage, then help texts)."""
    parser = command_parser(name)
    formatter = parser._get_formatter()
    lines = ["| option | what it does |", "|---|---|"]
    for action in _actions(parser):
        usage = formatter._format_action_invocation(action)
        if action.option_strings:  # "--seed SEED" rather than "-s SEED, --seed SEED"
            usage = usage.split(", ")[-1]
        usage = f"{option_name(action)}{usage[len(max(action.option_strings, key=len)):]}" \
            if action.option_strings else option_name(action) + (" ..." if action.nargs in ("+", "*") else "")
        text = " ".join(formatter._expand_help(action).split()) if action.help else ""
        if not text:  # an option without a help text: say at least whether it is needed
            text = "required" if action.required else f"default {action.default}" if action.default else "optional"
        lines.append(f"| `{usage}` | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write() -> None:
    """Rewrite every command's table in docs/commands.md; a command without one gets a section."""
    text = DOC.read_text()
    present = set(doc_tables(text))
    text = TABLE.sub(lambda m: f"<!-- options: {m[1]} -->\n{table(m[1])}<!-- end options -->", text)
    for name in COMMANDS:
        if name not in present:
            text += f"\n## {name}\n\n`{command_parser(name).prog}`\n\n<!-- options: {name} -->\n{table(name)}<!-- end options -->\n"
    DOC.write_text(text)


def test_every_command_has_a_table():
    tables = doc_tables(DOC.read_text())
    missing = [f"{name} (ser_ref/commands/{name}.py)" for name in COMMANDS if name not in tables]
    assert not missing, (f"docs/commands.md has no options table for: {', '.join(missing)}; "
                         "add one (python tests/test_docs_options.py --write)")
    stale = sorted(set(tables) - set(COMMANDS))
    assert not stale, f"docs/commands.md has a table for {stale}, which ser_ref/commands/ does not have"


def mismatches(name: str, documented: list[str], options: list[str]) -> list[str]:
    """Each difference between a command's table and its parser, as one sentence."""
    missing = [o for o in options if o not in documented]
    extra = [o for o in documented if o not in options]
    twice = sorted({o for o in documented if documented.count(o) > 1})
    return ([f"{o} is an option of python -m ser_ref.{name} but missing from its table" for o in missing]
            + [f"{o} is in the table of {name} but not an option of its parser" for o in extra]
            + [f"{o} is listed twice in the table of {name}" for o in twice])


@pytest.mark.parametrize("name", COMMANDS)
def test_table_lists_exactly_the_parsers_options(name):
    documented = doc_tables(DOC.read_text()).get(name)
    if documented is None:
        pytest.skip(f"no table for {name} (test_every_command_has_a_table says so)")
    problems = mismatches(name, documented, parser_options(name))
    assert not problems, ("docs/commands.md: " + "; ".join(problems)
                          + " (python tests/test_docs_options.py --write rewrites the tables)")


def test_a_table_without_an_option_is_caught():
    """Cut ``--seed``'s row from reproduce's table: the comparison names it (so it can fail at all)."""
    cut = re.sub(r"^\| `--seed[ `][^\n]*\n", "", DOC.read_text(), count=1, flags=re.M)
    assert mismatches("reproduce", doc_tables(cut)["reproduce"], parser_options("reproduce")) == [
        "--seed is an option of python -m ser_ref.reproduce but missing from its table"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sys.path.insert(0, str(ROOT))
        write()
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        for name in COMMANDS:
            print(f"## {name}\n\n{table(name)}")
