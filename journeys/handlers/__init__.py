"""Handlers: the registry (`@journeys.handler("name")`), the context a handler is given, and
the built-ins (``builtin.noop``, ``builtin.sleep``, ``builtin.fail``, ``builtin.set``)."""
