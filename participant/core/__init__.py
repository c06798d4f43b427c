"""The sans-IO delivery core: plain Python, no trio, no I/O (issue 11).

:class:`~participant.core.log.ItemLog` decides what to deliver of the items a participant
receives (deduplication, revisions of items that change in place, streaming replies) and
keeps the acknowledgement state a :class:`~participant.cursor.Cursor` is made of.
"""

from .log import ItemLog, fingerprint

__all__ = ["ItemLog", "fingerprint"]
