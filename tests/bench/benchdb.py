"""The database a benchmark builds its fixture in, never the demo's (shared by the scripts).

Run the scripts as `.venv/bin/python tests/bench/NAME.py`: their folder is then on sys.path,
and they put platform/ there before calling this.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


def bench_database_url(*, suffix: str, marker: str, rebuild: bool) -> str:
    """The URL of a benchmark's own database (`<name><suffix>` beside DATABASE_URL's, or on the
    embedded server), created empty if missing, or if the Heartbeat row `marker` that a
    finished fixture writes is absent."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "")
    if url:
        name = urlsplit(url).path.lstrip("/") + suffix
    else:
        from carefront.embedded import embedded_database_url

        var_dir = Path(os.environ.get("CAREFRONT_VAR_DIR") or ROOT / "var")
        url = embedded_database_url(var_dir / "pgdata")
        name = "carefront" + suffix
    bench_url = urlunsplit(urlsplit(url)._replace(path="/" + name))
    with psycopg.connect(url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not rebuild:
            with psycopg.connect(bench_url, autocommit=True) as bench:
                complete = (
                    bench.execute(
                        "SELECT to_regclass('public.tenants_heartbeat') IS NOT NULL"
                    ).fetchone()[0]
                    and bench.execute(
                        "SELECT 1 FROM tenants_heartbeat WHERE name = %s", [marker]
                    ).fetchone()
                )
            rebuild = not complete
        if exists and rebuild:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or rebuild:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return bench_url
