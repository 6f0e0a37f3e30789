"""Create the platform's Kafka topics (compose's one-shot `kafka-topics` service).

The names and partition counts come from `alliance_shared.contracts.topics`, the one place they live;
a topic that already exists is left as it is, so the job can run on every `docker compose up`.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from alliance_shared.contracts.topics import all_topics


async def main() -> int:
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    replication = int(os.environ.get("KAFKA_TOPIC_REPLICATION", "1"))
    admin = AIOKafkaAdminClient(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(prefix + name, partitions, replication)
            for name, partitions in all_topics().items()
            if prefix + name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        print(f"topics: {len(wanted)} created, {len(all_topics()) - len(wanted)} already there")
        return 0
    finally:
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
