"""No synchronous database work on the event loop (issue 13.3).

An ``async def`` in ``api/`` may hand its ``session`` to an awaited helper (``run_in_threadpool``,
``wf.send`` …) or use it inside a nested plain function that it runs in the threadpool, but never touch it
directly: a query or commit there stalls every other request while SQLite (or the pool) waits.
"""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"


def _direct_uses(fn: ast.AsyncFunctionDef) -> list[int]:
    awaited: set[int] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Await):
            awaited.update(id(n) for n in ast.walk(node.value))
    lines = []
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue  # a nested function runs wherever it is sent (the threadpool)
        if id(node) not in awaited:
            if isinstance(node, ast.Name) and node.id == "session":
                lines.append(node.lineno)
            if isinstance(node, ast.Attribute) and node.attr == "session" and isinstance(node.ctx, ast.Load):
                lines.append(node.lineno)  # db.session(): a new session opened on the loop
        stack.extend(ast.iter_child_nodes(node))
    return lines


def scan(source: str) -> list[tuple[str, int]]:
    return [
        (node.name, line)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AsyncFunctionDef)
        for line in _direct_uses(node)
    ]


def test_the_scan_finds_a_session_used_on_the_loop_and_accepts_the_threadpool() -> None:
    bad = "async def route(session):\n    session.commit()\n    x = await thing()\n"
    good = (
        "async def route(session):\n"
        "    def write():\n        session.commit()\n"
        "    await run_in_threadpool(write)\n"
        "    await run_in_threadpool(session.get, 1)\n"
    )
    opened = "async def route(db):\n    with db.session() as s:\n        pass\n"
    assert scan(bad) == [("route", 2)]
    assert scan(good) == []
    assert scan(opened) == [("route", 2)]


def test_no_async_function_in_the_api_touches_the_database_on_the_event_loop() -> None:
    found = [
        f"{path.relative_to(API.parent)}:{line} in {name}"
        for path in sorted(API.rglob("*.py"))
        for name, line in scan(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "database work on the event loop:\n" + "\n".join(found)
