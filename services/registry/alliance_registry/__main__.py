"""`python -m alliance_registry`: serve the registry on settings.host:settings.port (8001)."""

from __future__ import annotations

from alliance_shared.http import configure_process, run_service

from .app import create_app
from .settings import RegistrySettings


def main() -> None:
    settings = RegistrySettings()
    app = create_app(settings)
    configure_process(app.state.runtime)
    run_service(lambda: app, settings.host, settings.port)


if __name__ == "__main__":
    main()
