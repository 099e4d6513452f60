"""nginx-rtmp's HTTP callbacks: on_publish authorises a publish, on_publish_done ends it.

Not part of the API: nginx calls these with a form POST (`name` is what the publisher
put after the application: the key), and reads only the status. 2xx accepts, 3xx
renames the publish (to the stream's internal name, which the job pulls) and
anything else makes nginx drop the publisher. The rendered configuration adds the
shared secret as `token`; without it (or from anyone else) the answer is 403.
The key is never logged: only the stream id and the reason of a refusal.
"""

from __future__ import annotations

import hmac
import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.streams.live import conf, ingest, srt
from apps.streams.live.models import IngestProtocol
from apps.streams.live.sessions import PublishRefused, live_publish_done, live_publish_start
from castcore.secrets import remember

logger = logging.getLogger(__name__)

# What nginx-rtmp is answered for each refusal (it only reads the class of the status).
_REFUSAL_STATUS = {"unknown_key": 403, "already_live": 409, "job_refused": 409}


def _from_nginx(request: HttpRequest) -> bool:
    token = request.GET.get("token", "")
    return hmac.compare_digest(token.encode(), conf.callback_secret().encode())


def _text(status: int, body: str = "") -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain")


@csrf_exempt
@require_POST
def on_publish(request: HttpRequest) -> HttpResponse:
    if not _from_nginx(request):
        return _text(403)
    key = request.POST.get("name", "")
    remember(key)  # whatever a publisher sent, it never reaches a log line in clear
    if (
        request.POST.get("app") != conf.RTMP_APP
        or ingest.stream_id_of_internal_name(key) is not None
    ):
        # A publish straight to an internal name is never accepted: the key is the door.
        logger.info("publish refused: not a key of application %s", conf.RTMP_APP)
        return _text(403)
    relayed: int | None = None
    if srt.is_relay_name(key):
        # CastCore's SRT relay: its signed name stands for the key (srt.py); a forged or
        # expired signature is refused like a wrong key.
        relayed = srt.relay_publish_stream_id(
            key, expires=request.POST.get("exp", ""), sig=request.POST.get("sig", "")
        )
        if relayed is None:
            logger.info("publish refused: SRT relay name without a valid signature")
            return _text(403)
        key = ""
    try:
        publish = live_publish_start(
            key=key,
            stream_id=relayed,
            # CastCore's SRT relay marks its publishes (srt.py); only a label, not a right.
            protocol=IngestProtocol.SRT
            if relayed is not None or request.POST.get("via") == "srt"
            else IngestProtocol.RTMP,
            address=request.POST.get("addr") or None,
            client_id=request.POST.get("clientid", ""),
        )
    except PublishRefused as refused:
        logger.info("publish refused: %s %s", refused.reason, refused.params)
        return _text(_REFUSAL_STATUS.get(refused.reason, 403))
    # Accepted, under the stream's internal name: the job pulls that, and the key stays
    # out of nginx's stream names, statistics and the job's argv.
    response = _text(302)
    response["Location"] = ingest.internal_name(publish.stream.pk)
    return response


@csrf_exempt
@require_POST
def on_publish_done(request: HttpRequest) -> HttpResponse:
    if not _from_nginx(request):
        return _text(403)
    name = request.POST.get("name", "")
    remember(name)
    live_publish_done(name=name, client_id=request.POST.get("clientid", ""))
    return _text(200)
