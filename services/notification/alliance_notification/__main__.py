"""`python -m alliance_notification`: serve the notification service on its port (8004)."""

from __future__ import annotations

from alliance_shared.http import configure_process, run_service

from .app import create_app
from .settings import NotificationSettings


def main() -> None:
    settings = NotificationSettings()

    def factory():  # type: ignore[no-untyped-def]
        app = create_app(settings)
        configure_process(app.state.runtime)
        return app

    run_service(factory, settings.host, settings.port)


if __name__ == "__main__":
    main()
