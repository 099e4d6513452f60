"""Models of this app arrive with its issue."""

# Models kept in their own packages (scheduler, replays); imported here so that Django
# registers them with this app.
from apps.channels.replays.models import Replay  # noqa: F401
from apps.channels.scheduling.models import ScheduledAction, ScheduledRun  # noqa: F401
