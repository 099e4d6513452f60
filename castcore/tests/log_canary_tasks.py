"""A task the log redaction test loads into a real worker (`celery worker -I …`).

It learns a secret the way worker code does (decrypting a stored value) and then
writes it to the log every way worker code and libraries do.
"""

from __future__ import annotations

import logging
import sys

from celery import shared_task

from castcore.secrets import decrypt

logger = logging.getLogger(__name__)


@shared_task(name="castcore.tests.log_canary")
def log_canary(token: str) -> None:
    secret = decrypt(token)
    # As botocore's debug lines did with an S3 key id.
    logging.getLogger("botocore.endpoint").debug("Sending http request: Credential=%s/x", secret)
    logger.warning("canary formatted before logging: " + secret)
    print(f"canary printed: {secret}")  # Celery redirects a task's stdout to its log
    try:
        raise RuntimeError(f"canary raised: {secret}")
    except RuntimeError:
        logger.exception("canary traceback")
    # A library that configures logging again while the worker runs (to the real
    # stderr: Celery's sys.stderr is a proxy into its own logger).
    logging.basicConfig(force=True, level=logging.DEBUG, stream=sys.__stderr__)
    logger.warning("canary after basicConfig: %s", secret)
    logger.warning("canary done")
