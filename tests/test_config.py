"""Configuration discovery, precedence and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from esctl.config import find_config_file, parse_duration_ms, resolve_settings
from esctl.errors import ConfigError
from tests.conftest import run_cli, write_config


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    settings = resolve_settings(env={}, cwd=tmp_path)
    assert settings.store == "sqlite:///events.db"
    assert settings.schema == "public"
    assert settings.read_only is False
    assert settings.config_path is None


def test_discovery_order(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "esctl").mkdir(parents=True)
    xdg_file = write_config(xdg / "esctl" / "config.yaml", {})
    cwd_file = write_config(tmp_path / "esctl.yaml", {})
    env_file = write_config(tmp_path / "env.yaml", {})
    flag_file = write_config(tmp_path / "flag.yaml", {})
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert find_config_file(None, env, tmp_path / "nowhere") == xdg_file
    assert find_config_file(None, env, tmp_path) == cwd_file
    env["ESCTL_CONFIG"] = str(env_file)
    assert find_config_file(None, env, tmp_path) == env_file
    assert find_config_file(str(flag_file), env, tmp_path) == flag_file


def test_precedence_flags_then_environment_then_profile_then_defaults(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        {"a": {"store": "sqlite:///a.db", "schema": "sa"}, "b": {"store": "sqlite:///b.db"}},
        default_profile="a",
    )
    base = {"ESCTL_CONFIG": str(config)}
    assert resolve_settings(env=base, cwd=tmp_path).store == "sqlite:///a.db"
    with_profile_env = {**base, "ESCTL_PROFILE": "b"}
    assert resolve_settings(env=with_profile_env, cwd=tmp_path).store == "sqlite:///b.db"
    assert resolve_settings(profile="a", env=with_profile_env, cwd=tmp_path).store == (
        "sqlite:///a.db"
    )
    with_store_env = {**base, "ESCTL_STORE": "sqlite:///env.db"}
    settings = resolve_settings(env=with_store_env, cwd=tmp_path)
    assert settings.store == "sqlite:///env.db"
    assert settings.sources["store"] == "$ESCTL_STORE"
    assert settings.schema == "sa"
    flagged = resolve_settings(store="sqlite:///flag.db", env=with_store_env, cwd=tmp_path)
    assert flagged.store == "sqlite:///flag.db"
    assert flagged.sources["store"] == "flag"


def test_missing_profile_names_the_file_and_the_profiles(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"dev": {}, "prod": {}})
    with pytest.raises(ConfigError) as error:
        resolve_settings(profile="staging", env={"ESCTL_CONFIG": str(config)}, cwd=tmp_path)
    assert "profile 'staging'" in error.value.message
    assert str(config) in error.value.message
    assert "dev, prod" in error.value.message


def test_bad_yaml_reports_its_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("profiles:\n  dev:\n    store: [unclosed\n")
    with pytest.raises(ConfigError) as error:
        resolve_settings(config=str(config), env={}, cwd=tmp_path)
    assert "line" in error.value.message and str(config) in error.value.message


def test_unknown_profile_key_is_rejected(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"dev": {"stroe": "sqlite:///x.db"}})
    with pytest.raises(ConfigError) as error:
        resolve_settings(config=str(config), profile="dev", env={}, cwd=tmp_path)
    assert "'stroe'" in error.value.message


@pytest.mark.parametrize(
    ("value", "millis"), [(500, 500), ("500ms", 500), ("30s", 30_000), ("2min", 120_000)]
)
def test_durations(value: object, millis: int) -> None:
    assert parse_duration_ms(value, "statement_timeout") == millis


def test_bad_duration() -> None:
    with pytest.raises(ConfigError):
        parse_duration_ms("soon", "statement_timeout")


def test_password_env_must_be_set(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"p": {"password_env": "ESCTL_TEST_NO_SUCH_VAR"}})
    settings = resolve_settings(config=str(config), profile="p", env={}, cwd=tmp_path)
    with pytest.raises(ConfigError) as error:
        _ = settings.password
    assert "ESCTL_TEST_NO_SUCH_VAR" in error.value.message


def test_config_show_redacts_passwords(tmp_path: Path) -> None:
    secret = "s3cr3t-sentinel"
    config = write_config(
        tmp_path / "c.yaml",
        {"prod": {"store": f"postgresql://app:{secret}@db.example.com/app", "read_only": True}},
    )
    for fmt in ("table", "json", "jsonl", "csv"):
        result = run_cli("-c", str(config), "-p", "prod", "-o", fmt, "config", "show")
        assert result.exit_code == 0, result.stderr
        assert secret not in result.stdout + result.stderr
        assert "app:***@db.example.com" in result.stdout
    result = run_cli("-c", str(config), "config", "profiles", "-o", "json")
    assert secret not in result.stdout and "prod" in result.stdout


def test_config_path_reports_the_file_in_use(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {})
    result = run_cli("config", "path", "-c", str(config))
    assert result.exit_code == 0
    assert result.stdout.strip() == str(config)


def test_bad_config_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("profiles: [\n")
    result = run_cli("-c", str(config), "doctor")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: config file {config} line")


def test_read_store_follows_the_profile_store_only(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        {"ha": {"store": "postgresql://db1/app", "read_store": "postgresql://db2/app"}},
    )
    env = {"ESCTL_CONFIG": str(config), "ESCTL_PROFILE": "ha"}
    assert resolve_settings(env=env, cwd=tmp_path).read_store == "postgresql://db2/app"
    flagged = resolve_settings(store="sqlite:///other.db", env=env, cwd=tmp_path)
    assert flagged.read_store is None, "reads must come from the store named on the command line"
    from_env = resolve_settings(env={**env, "ESCTL_STORE": "sqlite:///x.db"}, cwd=tmp_path)
    assert from_env.read_store is None
