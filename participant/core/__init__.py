"""The sans-IO delivery core: plain Python, no trio, no sockets, no HTTP (issue 11).

:class:`~participant.core.log.ItemLog` decides what to deliver of the items a participant
receives (deduplication, revisions of items that change in place, streaming replies) and
keeps the acknowledgement state a :class:`~participant.cursor.Cursor` is made of.
:mod:`participant.core.plan` holds the pure plans (renewal deadlines, gap fill start and
filters, transcript paging bounds) and :mod:`participant.core.delivery` the gap fills owed
(coalesced requests, refills of dropped items, each socket's fill gate), which
:mod:`participant.actor` executes.
"""

from .log import ItemLog, fingerprint

__all__ = ["ItemLog", "fingerprint"]
