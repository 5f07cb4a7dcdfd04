"""The ``blazer`` console script.

``blazer episodes show ID`` on PostgreSQL is answered here, before Typer and the command
table load: one row through the DBAPI driver, so the whole process fits the 200 ms budget at
ten million rows (benchmarks/bench_db_scale.py). Everything else, and that command wherever
the fast path cannot answer (SQLite, another schema, no such episode: the full path says
why), goes on to ``blazer.app``.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) == 3 and argv[:2] == ["episodes", "show"] and argv[2].isdigit():
        from blazer.commands.fast_reads import episode_json

        text = episode_json(int(argv[2]))
        if text is not None:
            sys.stdout.write(text + "\n")
            return
    from blazer.app import main as run

    run()


if __name__ == "__main__":
    main()
