"""The outbox of domain events: one row per event, written in the transaction of the change.

A Django app of its own inside castcore so that `castcore.events.emit` can write
rows without any app importing apps.integrations, which reads them.
"""
