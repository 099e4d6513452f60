from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from castcore.env import env_bool, env_float, env_int, env_list, env_str, persistent_secret


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "on", " On "])
def test_it_reads_true_values(raw: str) -> None:
    assert env_bool("X", default=False, environ={"X": raw}) is True


@pytest.mark.parametrize("raw", ["false", "0", "no", "off"])
def test_it_reads_false_values(raw: str) -> None:
    assert env_bool("X", default=True, environ={"X": raw}) is False


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y"])
def test_a_malformed_boolean_is_an_error(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env_bool("DEBUG", default=False, environ={"DEBUG": raw})


def test_unset_and_empty_give_the_default() -> None:
    assert env_bool("X", default=True, environ={}) is True
    assert env_bool("X", default=True, environ={"X": ""}) is True


def test_file_variant_is_read_without_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    assert env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cr3t-value"


def test_setting_both_a_value_and_its_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a")
    with pytest.raises(ImproperlyConfigured, match="both set"):
        env_str("SECRET_KEY", environ={"SECRET_KEY": "b", "SECRET_KEY_FILE": str(secret)})


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_integers_are_strict_and_bounded() -> None:
    assert env_int("N", 3, environ={"N": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("N", 3, environ={"N": "7.5"})
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("N", 3, minimum=1, environ={"N": "0"})


def test_lists_are_comma_separated_and_trimmed() -> None:
    assert env_list("H", [], environ={"H": " a.example, b.example ,,"}) == [
        "a.example",
        "b.example",
    ]


def test_persistent_secret_is_generated_once_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "key"
    first = persistent_secret(path, lambda: "generated-1")
    second = persistent_secret(path, lambda: "generated-2")
    assert first == second == "generated-1"
    assert path.stat().st_mode & 0o777 == 0o600


def test_floats_are_strict_finite_and_bounded() -> None:
    assert env_float("F", 1.5, environ={"F": "0.25"}) == 0.25
    for bad in ("fast", "nan", "inf"):
        with pytest.raises(ImproperlyConfigured):
            env_float("F", 1.5, environ={"F": bad})
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_float("F", 1.5, minimum=0.1, environ={"F": "0.01"})
