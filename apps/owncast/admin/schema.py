"""The request and response shapes of Owncast's admin API, for the OpenAPI schema only.

The views build their answers as Owncast's JSON (camelCase keys); these serializers
describe them and are never used to render.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class AdminBasicResponse(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    message = serializers.CharField()


# 400 (`success: false`) is added by castcore.api.schema from the view's error shape.
BASIC = {200: OpenApiResponse(AdminBasicResponse, description="Done (`success: true`)")}
REFUSED = {"400": "Refused: `success: false`, why in `message`"}


class AdminConfigValue(serializers.Serializer[Any]):
    value = serializers.JSONField(help_text="A string, number, boolean, list or object")


class AdminStreamDetails(serializers.Serializer[Any]):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    framerate = serializers.IntegerField()
    frameRate = serializers.IntegerField(help_text="The same, as Owncast's document spells it")
    videoBitrate = serializers.IntegerField(help_text="kbit/s")
    videoCodec = serializers.CharField()
    audioBitrate = serializers.IntegerField(help_text="kbit/s")
    audioCodec = serializers.CharField()
    encoder = serializers.CharField()


class AdminBroadcaster(serializers.Serializer[Any]):
    remoteAddr = serializers.CharField()
    time = serializers.DateTimeField()
    streamDetails = AdminStreamDetails()


class AdminStatus(serializers.Serializer[Any]):
    broadcaster = AdminBroadcaster(allow_null=True, help_text="null while nobody publishes")
    online = serializers.BooleanField()
    viewerCount = serializers.IntegerField()
    overallPeakViewerCount = serializers.IntegerField()
    sessionPeakViewerCount = serializers.IntegerField()
    streamTitle = serializers.CharField()
    versionNumber = serializers.CharField()


class AdminTimestampedValue(serializers.Serializer[Any]):
    time = serializers.DateTimeField()
    value = serializers.IntegerField()


class AdminHardwareStats(serializers.Serializer[Any]):
    cpu = AdminTimestampedValue(many=True)
    memory = AdminTimestampedValue(many=True)
    disk = AdminTimestampedValue(many=True)


class AdminLogEntry(serializers.Serializer[Any]):
    time = serializers.DateTimeField()
    level = serializers.CharField()
    message = serializers.CharField(help_text="Secrets CastCore knows are masked")


class AdminUser(serializers.Serializer[Any]):
    id = serializers.CharField()
    displayName = serializers.CharField()
    displayColor = serializers.IntegerField()
    createdAt = serializers.DateTimeField()
    previousNames = serializers.ListField(child=serializers.CharField())
    disabledAt = serializers.DateTimeField(required=False, help_text="Disabled users only")


class AdminClient(serializers.Serializer[Any]):
    connectedAt = serializers.DateTimeField()
    messageCount = serializers.IntegerField()
    userAgent = serializers.CharField()
    ipAddress = serializers.CharField()
    clientID = serializers.CharField()
    geo = serializers.JSONField(allow_null=True)
    user = AdminUser()


class AdminChatMessage(serializers.Serializer[Any]):
    id = serializers.CharField()
    type = serializers.CharField(help_text="CHAT or SYSTEM")
    timestamp = serializers.DateTimeField()
    user = AdminUser()
    body = serializers.CharField(help_text="HTML, as CastCore's chat rendered it")
    visible = serializers.BooleanField()
    hiddenAt = serializers.DateTimeField(allow_null=True)


class AdminMessageVisibility(serializers.Serializer[Any]):
    idArray = serializers.ListField(child=serializers.CharField())
    visible = serializers.BooleanField()


class AdminUserEnabled(serializers.Serializer[Any]):
    userId = serializers.CharField()
    enabled = serializers.BooleanField()


class AdminAccessTokenCreate(serializers.Serializer[Any]):
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class AdminAccessToken(serializers.Serializer[Any]):
    id = serializers.CharField()
    accessToken = serializers.CharField(
        help_text="In clear to the stream's key holder (tokens made through this API); "
        "masked otherwise"
    )
    displayName = serializers.CharField()
    displayColor = serializers.IntegerField()
    createdAt = serializers.DateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())
    type = serializers.CharField()
    lastUsedAt = serializers.DateTimeField(allow_null=True)


class AdminAccessTokenDelete(serializers.Serializer[Any]):
    token = serializers.CharField(help_text="The token, or its id")


class AdminWebhookCreate(serializers.Serializer[Any]):
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())


class AdminWebhook(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.CharField(
        help_text="In clear to the stream's key holder; scheme, host and port to a token"
    )
    events = serializers.ListField(child=serializers.CharField())
    timestamp = serializers.DateTimeField()
    lastUsed = serializers.DateTimeField(allow_null=True)
    secret = serializers.CharField(
        required=False, help_text="The signing secret: in the create answer only"
    )


class AdminWebhookDelete(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Or the same number as a string")


class AdminExternalAction(serializers.Serializer[Any]):
    url = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(required=False)
    icon = serializers.CharField(required=False)
    color = serializers.CharField(required=False)
    openExternally = serializers.BooleanField(required=False)


class AdminStreamQuality(serializers.Serializer[Any]):
    name = serializers.CharField()
    videoPassthrough = serializers.BooleanField()
    audioPassthrough = serializers.BooleanField()
    videoBitrate = serializers.IntegerField()
    audioBitrate = serializers.IntegerField()
    scaledWidth = serializers.IntegerField()
    scaledHeight = serializers.IntegerField()
    framerate = serializers.IntegerField()
    cpuUsageLevel = serializers.IntegerField()


class AdminVideoSettings(serializers.Serializer[Any]):
    videoQualityVariants = AdminStreamQuality(many=True)
    latencyLevel = serializers.IntegerField()


class AdminYp(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    instanceUrl = serializers.CharField()


class AdminInstanceDetails(serializers.Serializer[Any]):
    name = serializers.CharField()
    summary = serializers.CharField()
    welcomeMessage = serializers.CharField()
    logo = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    version = serializers.CharField()
    nsfw = serializers.BooleanField()
    extraPageContent = serializers.CharField()
    streamTitle = serializers.CharField()
    socialHandles = serializers.ListField(child=serializers.DictField())
    customStyles = serializers.CharField()


class AdminServerConfig(serializers.Serializer[Any]):
    instanceDetails = AdminInstanceDetails()
    ffmpegPath = serializers.CharField()
    streamKey = serializers.CharField(
        help_text="The stream key, to a caller who authenticated with it; empty otherwise"
    )
    adminPassword = serializers.CharField(help_text="The same as streamKey")
    webServerPort = serializers.IntegerField()
    webServerIP = serializers.CharField()
    rtmpServerPort = serializers.IntegerField()
    s3 = serializers.DictField()
    videoSettings = AdminVideoSettings()
    yp = AdminYp()
    chatDisabled = serializers.BooleanField()
    chatJoinMessagesEnabled = serializers.BooleanField()
    forbiddenUsernames = serializers.ListField(child=serializers.CharField())
    suggestedUsernames = serializers.ListField(child=serializers.CharField())
    externalActions = AdminExternalAction(many=True)
    supportedCodecs = serializers.ListField(child=serializers.CharField())
    videoCodec = serializers.CharField()
