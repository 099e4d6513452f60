"""Replays: finished recordings published with a title, description and visibility."""
