from __future__ import annotations

from workers.ffmpeg.health import HealthInputs, RunState, health_score, subscores

GOOD = HealthInputs(
    state=RunState.RUNNING,
    speed=1.0,
    fps=30,
    target_fps=30,
    drop_frames=0,
    total_frames=9000,
    recent_reconnects=0,
    bitrate_kbps=4500,
    target_bitrate_kbps=4500,
)


def test_a_healthy_job_scores_100() -> None:
    assert health_score(GOOD) == 100


def test_stopped_failed_and_stalled_jobs_score_0() -> None:
    for state in (RunState.STOPPED, RunState.FAILED, RunState.STALLED):
        assert health_score(HealthInputs(**{**GOOD.__dict__, "state": state})) == 0


def test_state_caps_the_score() -> None:
    assert health_score(HealthInputs(**{**GOOD.__dict__, "state": RunState.RECONNECTING})) == 40
    assert health_score(HealthInputs(**{**GOOD.__dict__, "state": RunState.STARTING})) == 80


def test_slow_speed_costs_its_weight() -> None:
    slow = HealthInputs(**{**GOOD.__dict__, "speed": 0.5})
    assert subscores(slow)["speed"] == 0
    assert health_score(slow) == 70  # the 30-point speed weight is lost


def test_drops_reconnects_and_low_bitrate_each_lower_the_score() -> None:
    drops = HealthInputs(**{**GOOD.__dict__, "drop_frames": 450})  # 5 % dropped
    assert health_score(drops) == 90
    reconnects = HealthInputs(**{**GOOD.__dict__, "recent_reconnects": 5})
    assert health_score(reconnects) == 85
    bitrate = HealthInputs(**{**GOOD.__dict__, "bitrate_kbps": 2250})
    assert health_score(bitrate) == 95


def test_unknown_signals_are_left_out_not_punished() -> None:
    assert health_score(HealthInputs(state=RunState.RUNNING)) == 100
    assert health_score(HealthInputs(state=RunState.RUNNING, speed=0.75)) == 67  # (30*.5+15)/45
