"""The embedded services of the default run: PostgreSQL from `pgserver`, a file-based broker.

A fresh machine has Python and nothing else running. With no DATABASE_URL we start (or join)
one PostgreSQL server whose data lives under the var folder; every process that imports the
settings (web, worker, beat, tests) shares it, and pgserver stops it when the last one exits.
See docs/decisions/0003-embedded-services.md.
"""

import logging
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

logging.getLogger("pgserver").setLevel(logging.WARNING)


def embedded_database_url(data_dir: Path) -> str:
    import warnings

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on headless machines; harmless.
        warnings.simplefilter("ignore")
        import pgserver

        forget_dead_handles(data_dir)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    # pgserver hands out `?host=<socket dir>`, which Django keeps in OPTIONS; a percent-encoded
    # socket path as the host puts it in HOST, where other tools (and tests) look for it.
    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/postgres"


def forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of processes that died without saying goodbye from pgserver's list.

    pgserver stops the server when the last process using it exits, counting them in
    `.handle_pids.json`; a process killed by a signal never removes itself, and the server
    would then outlive `make run`.
    """
    import json

    import psutil
    from pgserver.postgres_server import PostgresServer

    handles = data_dir / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def filesystem_broker_options(broker_dir: Path) -> dict:
    """kombu's filesystem transport: a real queue in a folder, enough for one machine."""
    queue = broker_dir / "queue"
    processed = broker_dir / "processed"
    for folder in (queue, processed, broker_dir / "control"):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }
