"""Compiling schedules into playout rows (compile.py, Django-free)."""
