"""Celery tasks (thin: take ids, load rows, call services) and the FFmpeg driver code."""
