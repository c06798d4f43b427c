"""The sans-IO core of the participant: plain Python, no trio, no sockets, no HTTP.

:mod:`participant.core.plan` holds the pure plans (renewal deadlines, gap fill start and
filters, transcript paging bounds) that :mod:`participant.actor` executes.
"""
