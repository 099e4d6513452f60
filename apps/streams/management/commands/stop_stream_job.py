from apps.streams.management.commands._control import ControlCommand


class Command(ControlCommand):
    help = "Stop stream jobs by id (the same compare-and-set transition as the API)."
    verb = "stop"
