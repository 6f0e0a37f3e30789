"""Shared library of the alliance platform: contracts, Kafka, MongoDB, auth, settings, telemetry."""
