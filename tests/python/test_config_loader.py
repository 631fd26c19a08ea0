import json

import pytest

from genonaut.config_loader import ConfigError, load_config

from conftest import ROOT

CONFIG = ROOT / "config"


def env(**kw):
    base = {"ENV_TARGET": "local", "APP_CONFIG_PATH": str(CONFIG / "local.json")}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_overlay_on_base_and_secrets_from_environment():
    s = load_config(env(DATABASE_URL="postgresql://u:p@db/x", COMFYUI_URL="http://img:8189/"))
    assert s.env_target == "local"
    assert s.get("log_level") == "DEBUG"  # local.json overrides base.json
    assert s.get("comfyui.job_timeout_seconds") == 60  # nested overlay
    assert s.get("comfyui.checkpoint") == "sd_xl_base_1.0.safetensors"  # kept from base
    assert s.database_url == "postgresql://u:p@db/x"
    assert s.comfyui_url == "http://img:8189"


@pytest.mark.parametrize("target", ["local", "cloud-demo", "cloud-dev", "cloud-test", "cloud-prod"])
def test_every_environment_file_loads_and_names_itself(target):
    s = load_config(env(ENV_TARGET=target, APP_CONFIG_PATH=str(CONFIG / f"{target}.json")))
    assert s.get("env_target") == target


def test_config_files_hold_no_secrets():
    for path in CONFIG.glob("*.json"):
        text = path.read_text().lower()
        for word in ("password", "secret", "postgresql://", "redis://"):
            assert word not in text, f"{path.name} mentions {word}"
        json.loads(text)


def test_missing_env_target():
    with pytest.raises(ConfigError, match="ENV_TARGET is not set; expected one of: local, cloud-demo"):
        load_config(env(ENV_TARGET=None))


def test_unknown_env_target():
    with pytest.raises(ConfigError) as e:
        load_config(env(ENV_TARGET="staging"))
    assert str(e.value) == (
        "unknown ENV_TARGET `staging`; expected one of: local, cloud-demo, cloud-dev, cloud-test, cloud-prod"
    )


def test_missing_config_file(tmp_path):
    missing = tmp_path / "local.json"
    with pytest.raises(ConfigError) as e:
        load_config(env(APP_CONFIG_PATH=str(missing)))
    assert str(e.value) == f"config file `{missing}` does not exist"


def test_invalid_json_names_line_and_column(tmp_path):
    (tmp_path / "base.json").write_text("{}")
    bad = tmp_path / "local.json"
    bad.write_text('{\n  "log_level": DEBUG\n}')
    with pytest.raises(ConfigError, match=r"is not valid JSON: line 2 column 16"):
        load_config(env(APP_CONFIG_PATH=str(bad)))


def test_config_for_another_environment_is_refused():
    with pytest.raises(ConfigError, match="is the config for `cloud-prod`, but ENV_TARGET is `cloud-demo`"):
        load_config(env(ENV_TARGET="cloud-demo", APP_CONFIG_PATH=str(CONFIG / "cloud-prod.json")))


def test_a_required_secret_names_its_variable():
    s = load_config(env(DATABASE_URL=None, REDIS_URL=None))
    with pytest.raises(ConfigError, match=r"`database.url` is not set \(set DATABASE_URL\)"):
        _ = s.database_url
