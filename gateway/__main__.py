"""`python -m gateway`: serve the gateway with uvicorn, as configured by the environment."""

from __future__ import annotations

import uvicorn

from gateway.settings import load_settings


def main() -> None:
    settings = load_settings()
    uvicorn.run(
        "gateway.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
