"""Extension point for family (proxy) access.

The family feature registers a function ``(actor) -> list[resident_id]`` here so
that ``access.scope`` can include granted relatives without importing a feature.
"""

GRANTED: list = []
