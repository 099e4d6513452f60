"""A 0-100 health score for a running stream job, from numbers the supervisor sees.

Pure function of its inputs. Each signal gives a sub-score in [0, 1]; the
score is their weighted mean over the signals that are known (a job that has
not reported fps yet is not punished for it), scaled to 100 and then capped
by the run state. Weights, chosen so realtime delivery dominates:

    speed       30  below 1.0x the output falls behind live (viewers buffer)
    fps         25  delivered fps vs target fps
    drops       20  dropped frames as a share of all frames
    reconnects  15  reconnects in the recent window (0 → 1.0, 5 or more → 0)
    bitrate     10  actual vs target bitrate (under-delivery only)

State caps: running 100, starting 80, reconnecting 40, stalled/failed/stopped 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STALLED = "stalled"
    FAILED = "failed"
    STOPPED = "stopped"


WEIGHTS: dict[str, float] = {
    "speed": 30,
    "fps": 25,
    "drops": 20,
    "reconnects": 15,
    "bitrate": 10,
}
STATE_CAP: dict[RunState, int] = {
    RunState.RUNNING: 100,
    RunState.STARTING: 80,
    RunState.RECONNECTING: 40,
    RunState.STALLED: 0,
    RunState.FAILED: 0,
    RunState.STOPPED: 0,
}
RECONNECTS_FOR_ZERO = 5
DROP_RATIO_FOR_ZERO = 0.10  # 10 % dropped frames is unwatchable


@dataclass(frozen=True)
class HealthInputs:
    state: RunState
    speed: float | None = None
    fps: float | None = None
    target_fps: float | None = None
    drop_frames: int | None = None
    total_frames: int | None = None
    recent_reconnects: int = 0
    bitrate_kbps: float | None = None
    target_bitrate_kbps: float | None = None


def _ratio(actual: float | None, target: float | None) -> float | None:
    if actual is None or not target or target <= 0:
        return None
    return max(0.0, min(1.0, actual / target))


def subscores(inputs: HealthInputs) -> dict[str, float]:
    """Each known signal as a value in [0, 1] (1 is healthy)."""
    scores: dict[str, float] = {}
    speed = _ratio(inputs.speed, 1.0)
    if speed is not None:
        # 0.9x loses 10 % per second of content: treat the gap as twice as bad.
        scores["speed"] = max(0.0, 1.0 - 2.0 * (1.0 - speed))
    fps = _ratio(inputs.fps, inputs.target_fps)
    if fps is not None:
        scores["fps"] = fps
    if inputs.drop_frames is not None and inputs.total_frames:
        ratio = inputs.drop_frames / max(inputs.total_frames, 1)
        scores["drops"] = max(0.0, 1.0 - ratio / DROP_RATIO_FOR_ZERO)
    scores["reconnects"] = max(0.0, 1.0 - max(inputs.recent_reconnects, 0) / RECONNECTS_FOR_ZERO)
    bitrate = _ratio(inputs.bitrate_kbps, inputs.target_bitrate_kbps)
    if bitrate is not None:
        scores["bitrate"] = bitrate
    return scores


def health_score(inputs: HealthInputs) -> int:
    cap = STATE_CAP[RunState(inputs.state)]
    if cap == 0:
        return 0
    scores = subscores(inputs)
    total_weight = sum(WEIGHTS[name] for name in scores)
    mean = sum(WEIGHTS[name] * value for name, value in scores.items()) / total_weight
    return round(min(cap, 100 * mean))
