"""Configuration discovery, precedence and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from esctl.config import find_config_file, parse_duration_ms, resolve_settings
from esctl.errors import ConfigError
from tests.support.data import write_config
from tests.support.processes import run_cli


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


def test_pooler_is_pgbouncer_none_or_detected(tmp_path: Path) -> None:
    profiles = {"a": {"pooler": "pgbouncer"}, "b": {"pooler": "none"}, "c": {}}
    config = write_config(tmp_path / "c.yaml", profiles)
    poolers = [
        resolve_settings(config=str(config), profile=name, env={}, cwd=tmp_path).pooler
        for name in "abc"
    ]
    assert poolers == ["pgbouncer", "none", None]  # None: detected when esctl connects
    bad = write_config(tmp_path / "bad.yaml", {"d": {"pooler": "pgpool"}})
    with pytest.raises(ConfigError) as error:
        resolve_settings(config=str(bad), profile="d", env={}, cwd=tmp_path)
    assert "pooler must be pgbouncer or none" in error.value.message


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


# --- store precedence: an explicitly named profile is used whole (issue 14) ---------------------

FLAG, ENV, PROFILE, BARE = "sqlite:///flag.db", "sqlite:///env.db", "sqlite:///prod.db", None

# (how the profile is chosen, --store given, $ESCTL_STORE set) -> (store, source, warned)
# The profile `prod` has a store; SPEC "Configuration": --store beats everything; a profile named
# with -p beats $ESCTL_STORE; $ESCTL_STORE beats a profile chosen by $ESCTL_PROFILE or
# default_profile, and says so on stderr.
PRECEDENCE = [
    ("-p", True, True, FLAG, "flag", False),
    ("-p", True, False, FLAG, "flag", False),
    ("-p", False, True, PROFILE, "profile prod", False),
    ("-p", False, False, PROFILE, "profile prod", False),
    ("$ESCTL_PROFILE", True, True, FLAG, "flag", False),
    ("$ESCTL_PROFILE", True, False, FLAG, "flag", False),
    ("$ESCTL_PROFILE", False, True, ENV, "$ESCTL_STORE", True),
    ("$ESCTL_PROFILE", False, False, PROFILE, "profile prod", False),
    ("default_profile", True, True, FLAG, "flag", False),
    ("default_profile", True, False, FLAG, "flag", False),
    ("default_profile", False, True, ENV, "$ESCTL_STORE", True),
    ("default_profile", False, False, PROFILE, "profile prod", False),
    ("none", True, True, FLAG, "flag", False),
    ("none", True, False, FLAG, "flag", False),
    ("none", False, True, ENV, "$ESCTL_STORE", False),
    ("none", False, False, "sqlite:///events.db", "default", False),
]


@pytest.mark.parametrize(
    ("chosen_by", "flag", "env_store", "store", "source", "warned"), PRECEDENCE
)
def test_store_precedence_table(
    tmp_path: Path,
    chosen_by: str,
    flag: bool,
    env_store: bool,
    store: str,
    source: str,
    warned: bool,
) -> None:
    top = {"default_profile": "prod"} if chosen_by == "default_profile" else {}
    profiles = {"prod": {"store": PROFILE, "schema": "prod_schema", "read_only": True}}
    config = write_config(tmp_path / "c.yaml", profiles if chosen_by != "none" else {}, **top)
    env = {"ESCTL_CONFIG": str(config)}
    if env_store:
        env["ESCTL_STORE"] = ENV
    if chosen_by == "$ESCTL_PROFILE":
        env["ESCTL_PROFILE"] = "prod"
    settings = resolve_settings(
        profile="prod" if chosen_by == "-p" else None,
        store=FLAG if flag else None,
        env=env,
        cwd=tmp_path,
    )
    assert (settings.store, settings.sources["store"]) == (store, source)
    assert settings.schema == ("prod_schema" if chosen_by != "none" else "public")
    warnings = [w for w in settings.warnings if "overrides the store" in w]
    if warned:
        assert warnings == [
            f"$ESCTL_STORE ({ENV}) overrides the store of profile 'prod' (chosen by "
            f"{chosen_by}); name it with -p prod to use the profile's own store"
        ]
    else:
        assert warnings == []


def test_an_explicit_profile_without_a_store_takes_the_environment_store(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"bare": {"schema": "s"}})
    env = {"ESCTL_CONFIG": str(config), "ESCTL_STORE": ENV}
    settings = resolve_settings(profile="bare", env=env, cwd=tmp_path)
    assert (settings.store, settings.sources["store"], settings.warnings) == (
        ENV,
        "$ESCTL_STORE",
        (),
    )


def test_dash_p_prod_is_prod_even_with_esctl_store_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = tmp_path / "prod.db"
    other = tmp_path / "other.db"
    config = write_config(
        tmp_path / "c.yaml", {"prod": {"store": f"sqlite:///{prod}", "read_only": True}}
    )
    assert run_cli("-s", f"sqlite:///{prod}", "init").exit_code == 0
    monkeypatch.setenv("ESCTL_STORE", f"sqlite:///{other}")
    result = run_cli("-c", str(config), "-p", "prod", "doctor", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert f'"store": "sqlite:///{prod}"' in result.stdout
    assert '"read_only_profile": true' in result.stdout
    assert "overrides" not in result.stderr
    assert not other.exists()


def test_an_environment_override_is_said_once_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.db"
    config = write_config(tmp_path / "c.yaml", {"prod": {"store": "sqlite:///prod.db"}})
    monkeypatch.setenv("ESCTL_STORE", f"sqlite:///{other}")
    monkeypatch.setenv("ESCTL_PROFILE", "prod")
    result = run_cli("-c", str(config), "config", "show", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert f'"store": "sqlite:///{other}"' in result.stdout
    assert result.stderr == (
        f"Warning: $ESCTL_STORE (sqlite:///{other}) overrides the store of profile 'prod' "
        "(chosen by $ESCTL_PROFILE); name it with -p prod to use the profile's own store\n"
    )


# --- a config file holding a password that others can read (issue 13) --------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_readable_config_with_a_password_is_warned_about(tmp_path: Path, mode: int) -> None:
    config = write_config(
        tmp_path / "c.yaml", {"prod": {"store": "postgresql://app:Hunter2pw@db/app"}}
    )
    config.chmod(mode)
    result = run_cli("-c", str(config), "-p", "prod", "config", "show", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"Warning: config file {config} holds a password (profile 'prod', store) and other users "
        f"can read it (mode {mode:o}); run `chmod 600 {config}`\n"
    )
    assert "Hunter2pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("store", "mode", "warned"),
    [
        ("postgresql://app:pw1@db/app", 0o600, False),
        ("postgresql://app:pw1@db/app", 0o400, False),
        ("postgresql://app@db/app", 0o644, False),
        ("host=db password=pw1 dbname=app", 0o644, True),
        ("postgresql://app@db/app?password=pw1", 0o644, True),
        ("sqlite:///events.db", 0o666, False),
    ],
)
def test_config_permission_warning_cases(
    tmp_path: Path, store: str, mode: int, warned: bool
) -> None:
    config = write_config(tmp_path / "c.yaml", {"p": {"store": store}})
    config.chmod(mode)
    settings = resolve_settings(config=str(config), profile="p", env={}, cwd=tmp_path)
    assert [w for w in settings.warnings if "chmod 600" in w] == (
        [
            f"config file {config} holds a password (profile 'p', store) and other users can "
            f"read it (mode {mode:o}); run `chmod 600 {config}`"
        ]
        if warned
        else []
    )


def test_a_second_config_init_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "starter.yaml"
    first = run_cli("config", "init", "--path", str(target))
    assert first.exit_code == 0, first.stderr
    second = run_cli("config", "init", "--path", str(target))
    assert second.exit_code == 2
    assert second.stderr == (
        f"Error: {target} already exists; not overwriting it\n"
        "Hint: esctl config init --force replaces it; --path writes somewhere else\n"
    )
    assert run_cli("config", "init", "--path", str(target), "--force").exit_code == 0


def test_environment_store_over_the_implicit_default_profile_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"default": {"store": PROFILE, "schema": "d"}})
    env = {"ESCTL_CONFIG": str(config), "ESCTL_STORE": ENV}
    settings = resolve_settings(env=env, cwd=tmp_path)
    assert (settings.store, settings.schema, settings.profile) == (ENV, "d", "default")
    assert settings.warnings == (
        f"$ESCTL_STORE ({ENV}) overrides the store of profile 'default' (chosen by its name, "
        "default); name it with -p default to use the profile's own store",
    )
    explicit = resolve_settings(profile="default", env=env, cwd=tmp_path)
    assert (explicit.store, explicit.warnings) == (PROFILE, ())


def test_layout_comes_from_the_flag_then_environment_then_profile_then_auto(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path / "c.yaml", {"mdb": {"store": "sqlite:///a.db", "layout": "message-db"}}
    )
    base = {"ESCTL_CONFIG": str(config)}
    assert resolve_settings(env=base, cwd=tmp_path).layout == "auto"
    from_profile = resolve_settings(profile="mdb", env=base, cwd=tmp_path)
    assert (from_profile.layout, from_profile.sources["layout"]) == ("message-db", "profile mdb")
    env = {**base, "ESCTL_LAYOUT": "esctl"}
    from_env = resolve_settings(profile="mdb", env=env, cwd=tmp_path)
    assert (from_env.layout, from_env.sources["layout"]) == ("esctl", "$ESCTL_LAYOUT")
    flagged = resolve_settings(profile="mdb", layout="emmett", env=env, cwd=tmp_path)
    assert (flagged.layout, flagged.sources["layout"]) == ("emmett", "flag")


def test_an_unknown_layout_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    result = run_cli("--store", f"sqlite:///{tmp_path}/x.db", "--layout", "kafka", "doctor")
    assert result.exit_code == 2
    assert "layout 'kafka' (from flag) is not one of auto, esctl, message-db" in result.stderr
    assert not (tmp_path / "x.db").exists()
