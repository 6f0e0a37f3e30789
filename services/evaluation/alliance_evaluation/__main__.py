"""`python -m alliance_evaluation`: serve the evaluation service (127.0.0.1:8003 by default)."""

from __future__ import annotations

from alliance_shared.http import configure_process, run_service

from .app import create_app
from .settings import EvaluationSettings


def main() -> None:
    settings = EvaluationSettings()
    app = create_app(settings)
    configure_process(app.state.runtime)
    run_service(lambda: app, settings.host, settings.port)


if __name__ == "__main__":
    main()
