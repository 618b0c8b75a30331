"""The floor of `make bench-pages`: the least a page can cost on GridSafe's stack.

One Litestar process (uvicorn, as GridSafe runs), no authentication, sessions, CSRF, ORM,
translations or layout: `GET /` reads 50 rows of one grid from an indexed SQLite table (stdlib
sqlite3, one connection per thread) in a synchronous handler run in a thread, as GridSafe's page
handlers are, and renders them through a Jinja template into a small HTML page.

`uvicorn --factory bench.floor_app:create_app`; the database file is `BENCH_FLOOR_DB` (created and
filled on first start, 10,000 rows in 200 grids).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig

ROWS = 10_000
GRIDS = 200
PAGE_ROWS = 50
INDUSTRIES = ("危化", "冶金", "粉尘涉爆", "铝加工", "其他")
RISKS = ("red", "orange", "yellow", "blue")

PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<table>
<thead><tr><th>#</th><th>名称</th><th>行业</th><th>风险</th><th>地址</th></tr></thead>
<tbody>
{% for row in rows %}
<tr><td>{{ row.id }}</td><td><a href="/items/{{ row.id }}">{{ row.name }}</a></td>
<td>{{ row.industry }}</td><td class="risk-{{ row.risk }}">{{ row.risk }}</td>
<td>{{ row.address }}</td></tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""


def fill(path: Path) -> None:
    """The table and its index, filled once with rows spread evenly over the grids."""
    rng = random.Random(2026)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, grid INTEGER NOT NULL, "
            "name TEXT NOT NULL, industry TEXT NOT NULL, risk TEXT NOT NULL, address TEXT NOT NULL)"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS ix_item_grid ON item (grid, id)")
        if conn.execute("SELECT count(*) FROM item").fetchone()[0]:
            return
        conn.executemany(
            "INSERT INTO item (grid, name, industry, risk, address) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    n % GRIDS,
                    f"武汉第{n}号企业有限公司",
                    rng.choice(INDUSTRIES),
                    rng.choice(RISKS),
                    f"青山区和平大道{n}号",
                )
                for n in range(ROWS)
            ],
        )


def create_app() -> Litestar:
    path = Path(os.environ.get("BENCH_FLOOR_DB", "floor.sqlite3"))
    fill(path)
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            local.conn = conn
        return conn

    @get("/", sync_to_thread=True)
    def items() -> Template:
        grid = random.randrange(GRIDS)
        rows = connection().execute(
            "SELECT id, name, industry, risk, address FROM item WHERE grid = ? ORDER BY id LIMIT ?",
            (grid, PAGE_ROWS),
        )
        context: dict[str, Any] = {"title": f"网格 {grid}", "rows": rows.fetchall()}
        return Template(template_name="page.html", context=context)

    @get("/healthz", sync_to_thread=False)
    def healthz() -> str:
        return "ok"

    environment = Environment(
        loader=DictLoader({"page.html": PAGE}),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Litestar(
        route_handlers=[items, healthz],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        debug=False,
    )
