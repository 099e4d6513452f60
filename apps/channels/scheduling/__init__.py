"""Scheduled actions: start or stop a stream job or a channel, publish a replay, at a time."""
