"""`python -m alliance_notification` starts the service on its port, ready against the real broker/store."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from alliance_shared.testing import wait_for

from .fakes import free_port

pytestmark = pytest.mark.integration


async def test_the_service_starts_as_a_process_and_reports_ready(infra, topics, ns):
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
        "KAFKA_TOPIC_PREFIX": topics,
        "MONGODB_DATABASE": ns.replace("-", "_"),
        "PORT": str(port),
        "SMS_PROVIDER": "log",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alliance_notification",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_for(ready, timeout_s=60, interval_s=0.3, what="/readyz")
            health = await client.get("/healthz")
            spec = (await client.get("/openapi.json")).json()
        assert health.json() == {"status": "alive"}
        assert {"/api/v1/deliveries", "/api/v1/rules", "/api/v1/templates/{name}/preview"} <= set(
            spec["paths"]
        )
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=20)
