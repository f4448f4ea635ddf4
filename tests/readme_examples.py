"""The README's command examples, read and run as a user would type them (in the manner of sqlite-utils'
docs, whose examples are executed).

**The convention** (README.md, "Development"): a fenced block whose info string is `console` is an
example session. Each line starting with `$ ` is a command run with bash in the demo's folder (a line
ending in `\\` continues on the next one); the lines after it, up to the next `$ ` line, are its output
as shown. Output lines are compared after trailing spaces are dropped; `...` inside a line matches any
text, a line that is only `...` matches any number of lines, and a command shown without output only
has to succeed (exit code 0). A command that is meant to fail ends with the comment `# exit N`; one
that cannot run in a test (it starts a server, or needs a key printed earlier) ends with
`# not run: reason` — keep those few.
Blocks of other kinds (`bash`, `text`, `yaml`) are not run; a `$ drgaudit` line outside a `console`
block is an error, so no example escapes the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
NOT_RUN = re.compile(r"\s+#\s*not run:\s*\S")


@dataclass
class Step:
    """One command of an example session and the output the README shows for it."""

    line: int
    command: str
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0
    run: bool = True


@dataclass
class Block:
    """A fenced code block of the README."""

    kind: str
    line: int
    text: str


def blocks(markdown: str) -> list[Block]:
    """Every fenced block with its info string and the line its body starts on."""
    found = []
    for match in FENCE.finditer(markdown):
        found.append(Block(match[1], markdown.count("\n", 0, match.start(2)) + 1, match[2]))
    return found


def steps(block: Block) -> list[Step]:
    """The commands of one `console` block, each with its expected output."""
    result: list[Step] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            command = line[2:]
            number = block.line + index
            while command.endswith("\\") and index + 1 < len(lines):
                index += 1
                command = command[:-1] + "\n" + lines[index]
            exit_code = 0
            found = EXIT.search(command)
            if found:
                exit_code = int(found[1])
            result.append(Step(number, command, [], exit_code, not NOT_RUN.search(command)))
        elif result:
            result[-1].expected.append(line.rstrip())
        index += 1
    for step in result:
        while step.expected and not step.expected[-1]:
            step.expected.pop()
    return result


def stray_commands(markdown: str) -> list[str]:
    """`$ drgaudit` lines that are not inside a `console` block (they would never be run)."""
    inside: set[int] = set()
    for block in blocks(markdown):
        if block.kind == "console":
            inside.update(range(block.line, block.line + block.text.count("\n") + 1))
    return [
        f"README.md:{number}: {line.strip()}"
        for number, line in enumerate(markdown.splitlines(), start=1)
        if re.match(r"\s*\$ drgaudit\b", line) and number not in inside
    ]


def _line_pattern(expected: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in expected.split("...")) + "$")


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the actual output lines fit the expected ones (`...` wildcards, see the module docstring)."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and bool(_line_pattern(head).match(actual[0].rstrip())) and matches(rest, actual[1:])


def read(path: Path) -> tuple[str, list[Step]]:
    """The README's text and every step of its `console` blocks, in order."""
    markdown = path.read_text(encoding="utf-8")
    return markdown, [step for block in blocks(markdown) if block.kind == "console" for step in steps(block)]
