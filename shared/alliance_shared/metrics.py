"""Prometheus metrics every service shares; services add their own with the same registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter("alliance_events_published_total", "Events published to Kafka", ["topic", "type"])
EVENTS_CONSUMED = Counter("alliance_events_consumed_total", "Events handled by a consumer",
                          ["topic", "group", "outcome"])
CONSUMER_LAG = Gauge("alliance_consumer_lag", "Messages behind the log end", ["topic", "partition", "group"])
DEAD_LETTER_RUNS = Counter("alliance_dead_letter_runs_total",
                           "Runs of consecutive dead letters from one source that reached the brake's threshold "
                           "(an alert: the consumer goes on)", ["topic", "group"])
HANDLER_SECONDS = Histogram("alliance_handler_seconds", "Time to handle one event", ["group"])
OUTBOX_PENDING = Gauge("alliance_outbox_pending", "Documents with events not yet relayed", ["collection"])
HTTP_REQUESTS = Counter("alliance_http_requests_total", "HTTP requests", ["method", "route", "status"])
