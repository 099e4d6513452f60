"""What a Celery worker does with a stream run: lease, supervise ffmpeg, reconcile.

Django-aware glue around the Django-free engine in workers/ffmpeg/. The thin
Celery tasks in workers/stream_jobs.py call `run_stream` and `reconcile_runs`.
"""
