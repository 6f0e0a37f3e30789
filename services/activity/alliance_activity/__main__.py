"""`python -m alliance_activity`: serve the activity service (127.0.0.1:8002 by default)."""

from __future__ import annotations

from alliance_shared.http import configure_process, run_service

from .app import create_app
from .settings import ActivitySettings


def main() -> None:
    settings = ActivitySettings()
    app = create_app(settings)
    configure_process(app.state.runtime)
    run_service(lambda: app, settings.host, settings.port)


if __name__ == "__main__":
    main()
