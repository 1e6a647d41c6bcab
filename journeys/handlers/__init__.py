"""The handler registry (`@journeys.handler("name")`) and the built-in handlers.

Arrives with the engine issue; nothing here yet.
"""
