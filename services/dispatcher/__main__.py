"""`python -m services.dispatcher worker -l info` runs a worker; `… rebuild-roster` rebuilds the roster."""

from __future__ import annotations

from pathlib import Path


def main() -> None:
    from services.dispatcher.app import app

    Path(app.conf.datadir).mkdir(parents=True, exist_ok=True)  # faust makes only the last level
    app.main()


if __name__ == "__main__":
    main()
