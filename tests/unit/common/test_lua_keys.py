"""Every key a Lua script touches is in `KEYS` (Redis's EVAL contract, what Redis Cluster routes by and
what an ACL user's key patterns are checked against before the script runs): a static audit of every
`redis.call`/`redis.pcall` in the project's scripts.

A key counts as declared when the command's key argument is `KEYS[…]`, or a local bound to `KEYS[…]`,
or an element of a table filled only from `KEYS` (`table.insert(t, KEYS[i])`, iterated with `ipairs`).
Keys built inside a script (from `ARGV` prefixes, or names read from a hash or a sorted set) are not,
and fail the audit: a script that needs such a key has its caller read it first and declare it
(DESIGN.md §1 "One slot per deployment").
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = sorted(REPO.glob("services/**/lua/*.lua"))

KEYLESS = {"TIME", "PUBLISH", "SPUBLISH", "INFO"}  # PUBLISH's first argument is a channel, INFO's a section

CALL = re.compile(r"redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*((?:[^,()]|\([^()]*\))+))?")
LOCALS = re.compile(r"local\s+([\w\s,]+?)\s*=\s*([^\n]+)")
INSERT = re.compile(r"table\.insert\(\s*(\w+)\s*,\s*([^)]+?)\s*\)")
INDEXED = re.compile(r"(\w+)\[[^\]]+\]\s*=\s*([^\n]+?)\s*(?:end)?\s*$", re.M)
IPAIRS = re.compile(r"for\s+\w+\s*,\s*(\w+)\s+in\s+ipairs\(\s*(\w+)\s*\)")
GMATCH = re.compile(r"for\s+(\w+)\s+in\s+string\.gmatch")
DECLARED = re.compile(r"^KEYS\[[^\]]+\]$")


def _code(text: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def _split(values: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in values:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += char in "([{"
        depth -= char in ")]}"
        current += char
    return [*parts, current.strip()]


def undeclared(text: str) -> set[tuple[str, str]]:
    """(command, key expression) of every call whose key is not from `KEYS`."""
    code = _code(text)
    key_names: set[str] = set()
    other_names: set[str] = set()
    for names, values in LOCALS.findall(code):
        for name, value in zip(
            [n.strip() for n in names.split(",")], _split(values) + [""] * 10, strict=False
        ):
            (key_names if DECLARED.match(value) else other_names).add(name)
    tables: dict[str, bool] = {}
    for table, value in INSERT.findall(code):
        tables[table] = tables.get(table, True) and bool(DECLARED.match(value.strip()))
    for table, value in INDEXED.findall(code):
        tables[table] = tables.get(table, True) and bool(DECLARED.match(value.strip()))
    for var, table in IPAIRS.findall(code):
        (key_names if table == "KEYS" or tables.get(table) else other_names).add(var)
    other_names.update(GMATCH.findall(code))
    found = set()
    for command, first in CALL.findall(code):
        key = first.strip()
        if command.upper() in KEYLESS:
            continue
        if DECLARED.match(key) or (key in key_names and key not in other_names):
            continue
        found.add((command.upper(), key))
    return found


def test_the_audit_sees_an_undeclared_key() -> None:
    assert undeclared("redis.call('GET', ARGV[1] .. 'x')") == {("GET", "ARGV[1] .. 'x'")}
    assert undeclared("local k = KEYS[1]\nredis.call('GET', k)") == set()
    assert undeclared("local k = redis.call('HGET', KEYS[1], 'f')\nredis.call('DEL', k)") == {("DEL", "k")}
    assert (
        undeclared(
            "local t = {}\nfor i = 2, #KEYS do table.insert(t, KEYS[i]) end\n"
            "for _, key in ipairs(t) do redis.call('SADD', key, 'v') end"
        )
        == set()
    )


def test_every_key_a_script_touches_is_declared_in_KEYS() -> None:
    assert SCRIPTS, "no Lua scripts found"
    found = {(path.name, command, key) for path in SCRIPTS for command, key in undeclared(path.read_text())}
    assert found == set(), "keys built inside a script: pass them in KEYS"
