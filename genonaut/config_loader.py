"""Application configuration: ``config/base.json``, overlaid by the file at
``APP_CONFIG_PATH`` (chosen by ``ENV_TARGET``), then secrets from variables.

Configuration files hold no secrets; ``DATABASE_URL``, ``REDIS_URL`` and
``COMFYUI_URL`` come from the environment (locally from geno, on ECS from SSM).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ENV_TARGETS = ("local", "cloud-demo", "cloud-dev", "cloud-test", "cloud-prod")

# Variable name -> dotted config key it overrides.
ENV_OVERRIDES = {
    "DATABASE_URL": "database.url",
    "REDIS_URL": "redis.url",
    "COMFYUI_URL": "comfyui.url",
    "LOG_LEVEL": "log_level",
}


class ConfigError(Exception):
    """The configuration cannot be loaded; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    env_target: str
    config_path: Path
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def require(self, dotted: str) -> Any:
        value = self.get(dotted)
        if value in (None, ""):
            variable = next((k for k, v in ENV_OVERRIDES.items() if v == dotted), None)
            hint = f" (set {variable})" if variable else ""
            raise ConfigError(f"configuration value `{dotted}` is not set{hint}")
        return value

    @property
    def database_url(self) -> str:
        return self.require("database.url")

    @property
    def redis_url(self) -> str:
        return self.require("redis.url")

    @property
    def comfyui_url(self) -> str:
        return str(self.require("comfyui.url")).rstrip("/")


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file `{path}` does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file `{path}`: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file `{path}` is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file `{path}` must hold a JSON object")
    return data


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = values
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def load_config(environ: Mapping[str, str] | None = None, default_dir: Path | None = None) -> Settings:
    env = os.environ if environ is None else environ
    target = env.get("ENV_TARGET", "").strip()
    if not target:
        raise ConfigError(f"ENV_TARGET is not set; expected one of: {', '.join(ENV_TARGETS)}")
    if target not in ENV_TARGETS:
        raise ConfigError(f"unknown ENV_TARGET `{target}`; expected one of: {', '.join(ENV_TARGETS)}")
    config_dir = default_dir or Path(__file__).resolve().parent.parent / "config"
    path = Path(env.get("APP_CONFIG_PATH") or config_dir / f"{target}.json")
    overlay = _read_json(path)
    base = _read_json(path.parent / "base.json")
    declared = overlay.get("env_target")
    if declared is not None and declared != target:
        raise ConfigError(
            f"`{path}` is the config for `{declared}`, but ENV_TARGET is `{target}`; "
            "point APP_CONFIG_PATH at the matching file"
        )
    values = deep_merge(base, overlay)
    for variable, dotted in ENV_OVERRIDES.items():
        if env.get(variable):
            _set(values, dotted, env[variable])
    values["env_target"] = target
    return Settings(env_target=target, config_path=path, values=values)


_cached: Settings | None = None


def settings() -> Settings:
    """The process's settings, loaded once."""
    global _cached
    if _cached is None:
        _cached = load_config()
    return _cached
