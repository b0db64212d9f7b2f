"""Reading a magic's argument line: a trailing ``# comment`` is not an argument.

IPython hands a line magic everything after its name, comment included, so
``ep = %deploy cancer --max-replicas 4  # waits until it serves`` would pass
``# waits ...`` as arguments. A ``#`` starts a comment where a shell would start one:
at the start of the line or after whitespace, outside quotes (``https://h/#x`` and
``--tag a#b`` keep theirs).
"""

from __future__ import annotations

import shlex


def strip_comment(line: str) -> str:
    """``line`` without its trailing comment."""
    quote = ""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and quote != "'":
            index += 2  # an escaped character never opens, closes or comments
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
        index += 1
    return line


def split(line: str) -> list[str]:
    """The words of a magic's argument line, as a shell splits them, without its comment."""
    return shlex.split(strip_comment(line))


__all__ = ["split", "strip_comment"]
