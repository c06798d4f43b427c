"""participant: a reliable trio participant of an Amazon Connect chat.

See ``docs/`` for the guide and the API reference.
"""

__version__ = "0.1.0"
