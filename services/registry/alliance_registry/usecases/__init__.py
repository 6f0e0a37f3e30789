"""The use cases behind `handlers.COMMAND_HANDLERS`, one module per part of the registry."""
