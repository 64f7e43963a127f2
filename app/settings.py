"""Settings from the environment, read once. Every interval is a setting.

Bad values fail at start-up with a clear `ConfigError` naming the variable, never later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from typing import Any

_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ConfigError(ValueError):
    """A setting has a value Tandem cannot use."""


def _default_db_url() -> str:
    return "sqlite://" + os.path.abspath(os.path.join("data", "tandem.sqlite3"))


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Environment variable: `TANDEM_` + upper-case field name."""

    database_url: str = field(default_factory=_default_db_url)
    broadcast_url: str = "memory://"
    #: Names this deployment's broadcast channel (`tandem.<namespace>.events`). Redis pub/sub ignores
    #: database numbers, so deployments sharing a Redis server need different namespaces; empty
    #: means one derived from the database URL (processes sharing a database share a channel).
    broadcast_namespace: str = ""
    #: Broadcast messages larger than this are dropped (and counted) unread.
    broadcast_max_message_bytes: int = 4096
    port: int = 8000
    host: str = "127.0.0.1"
    #: Base URL of the simulated (or real) vendor clouds; each adapter appends its prefix.
    simulator_url: str = ""
    #: Run polling and action workers inside the web process.
    embedded_workers: bool = True
    charger_poll_s: float = 10.0
    #: Follow vendor push channels (Easee's streaming API): a charger changing is polled at once.
    charger_push: bool = True
    vehicle_poll_s: float = 300.0
    vehicle_poll_charging_s: float = 120.0
    poll_jitter: float = 0.1
    backoff_max_s: float = 600.0
    #: Requests per second each vendor adapter may send (token bucket refill) and burst size.
    vendor_budget_per_s: float = 50.0
    vendor_budget_burst: int = 100
    vendor_timeout_s: float = 10.0
    #: The longest Retry-After honoured: a vendor asking for more is asked again after this long.
    vendor_retry_after_max_s: float = 900.0
    #: A refused access token is renewed by logging in again, retried this many times with
    #: backoff (first wait `relogin_backoff_s`, doubling) before the user is asked to link again.
    relogin_attempts: int = 6
    relogin_backoff_s: float = 5.0
    #: On SIGTERM, the longest shutdown may take (in-flight requests, workers, connections);
    #: the process exits when it is over, whatever vendors or clients still do.
    shutdown_timeout_s: float = 5.0
    #: After a charger plug-in, keep polling candidate vehicles this long to confirm.
    confirm_window_s: float = 600.0
    confirm_poll_s: float = 20.0
    #: Actively pause the charger to tell ambiguous cars apart.
    allow_probe: bool = False
    #: The longest a probe keeps the charger paused.
    probe_s: float = 60.0
    action_timeout_s: float = 900.0
    action_check_s: float = 5.0
    #: How long a sent command may take to show in device data before the other path is tried.
    verify_charger_s: float = 30.0
    verify_vehicle_s: float = 45.0
    #: After waking a sleeping car, wait this long before sending the command again.
    wake_wait_s: float = 10.0
    #: Backoff of a path after a transient failure: base, doubling per failure (with jitter), capped.
    action_backoff_s: float = 5.0
    action_backoff_max_s: float = 120.0
    #: Commands one action may send in all (every path, wake-ups and overrides included).
    action_max_commands: int = 8
    lease_s: float = 15.0
    shards: int = 64
    ws_queue_size: int = 256
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    log_level: str = "INFO"
    #: "text" (one line per record) or "json" (one JSON object per line, via structlog).
    log_format: str = "text"
    #: Edge limits (0: no limit). Requests per minute per token, or per address without a valid token.
    rate_limit_per_minute: int = 600
    #: Key prefix of the shared rate-limit counters in Redis.
    rate_limit_prefix: str = "tandem:ratelimit"
    #: Largest HTTP request body and websocket message (bytes); over it: 413 / close 1009.
    max_body_bytes: int = 262_144
    #: Largest JSON argument (e.g. linkVendor credentials), serialised bytes.
    max_json_input_bytes: int = 16_384
    #: Longest String argument (characters).
    max_string_chars: int = 4_096
    #: Cost budget per operation (each field 1, lists count 10 items unless `first` says).
    max_query_cost: int = 5_000
    max_sockets_per_user: int = 10
    max_subscriptions_per_user: int = 50
    #: A websocket that sends no `connection_init` within this is closed with 4408.
    ws_init_timeout_s: float = 5.0
    #: Negotiate permessage-deflate on websockets (GraphQL and OCPP) when a client offers it. Off by
    #: default: each compressed socket keeps a zlib compressor and decompressor for its whole life
    #: (measured: 40 KB more per bare socket, 40-105 KB per subscriber or OCPP connection), while
    #: GraphQL events and OCPP messages are small JSON.
    ws_compression: bool = False
    #: Answer `__schema` / `__type` to callers without a valid token.
    anonymous_introspection: bool = False
    #: OCPP 1.6J central system: the heartbeat interval given at BootNotification (s), how long a
    #: charge point may take to answer a Call (s), failed handshakes allowed per charge point id
    #: and per address each minute, and the idTag of remote starts when the charger knows no card.
    ocpp_heartbeat_s: int = 300
    ocpp_call_timeout_s: float = 10.0
    ocpp_auth_failures_per_minute: int = 10
    ocpp_id_tag: str = "TANDEM"
    #: Learn a session's idTag for its vehicle when other evidence confirmed the pair
    #: (app.domain.idtags); off: nothing is learnt and learnt tags are not used.
    ocpp_learn_id_tags: bool = True
    #: Smart charging re-plans every vehicle with it on this often (s), besides re-planning at once on
    #: plug-ins, SoC readings, price and policy changes.
    smart_check_s: float = 60.0
    #: Length of a plan's slots (s); tariffs are usually hourly or quarter-hourly.
    smart_slot_s: float = 900.0
    #: `tandem worker` serves Prometheus metrics on this port (0: off; web processes use /metrics).
    metrics_port: int = 0
    #: Fernet keys encrypting vendor secrets at rest, comma-separated: the first encrypts, all decrypt
    #: (see app/crypto.py for what happens without them).
    secret_keys: str = ""
    #: Lifetime of a user token when `createUserToken` gives no `expiresIn` (seconds; 0: never expires).
    user_token_ttl_s: float = 30 * 24 * 3600.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `env` (default os.environ), then apply `overrides`."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("TANDEM_" + f.name.upper())
            if f.name == "port" and raw is None:
                raw = env.get("PORT")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject values that cannot work."""
        if not self.database_url.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ConfigError("TANDEM_DATABASE_URL must start with sqlite://, postgres:// or postgresql://")
        if not self.broadcast_url.startswith(("memory://", "redis://", "rediss://")):
            raise ConfigError("TANDEM_BROADCAST_URL must start with memory://, redis:// or rediss://")
        for name in ("charger_poll_s", "vehicle_poll_s", "vehicle_poll_charging_s", "lease_s", "action_check_s",
                     "verify_charger_s", "verify_vehicle_s", "vendor_retry_after_max_s", "relogin_backoff_s",
                     "shutdown_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"TANDEM_{name.upper()} must be > 0")
        if not 0 <= self.poll_jitter < 1:
            raise ConfigError("TANDEM_POLL_JITTER must be in [0, 1)")
        if self.action_max_commands < 1 or self.action_backoff_s < 0 or self.action_backoff_max_s < 0:
            raise ConfigError("TANDEM_ACTION_MAX_COMMANDS must be >= 1 and the action backoffs >= 0")
        if self.ocpp_heartbeat_s < 10 or self.ocpp_call_timeout_s <= 0:
            raise ConfigError("TANDEM_OCPP_HEARTBEAT_S must be >= 10 and TANDEM_OCPP_CALL_TIMEOUT_S > 0")
        if not 1 <= len(self.ocpp_id_tag) <= 20:
            raise ConfigError("TANDEM_OCPP_ID_TAG must be 1-20 characters (an OCPP IdToken)")
        if self.relogin_attempts < 0:
            raise ConfigError("TANDEM_RELOGIN_ATTEMPTS must be >= 0")
        if self.broadcast_namespace and not _NAMESPACE.fullmatch(self.broadcast_namespace):
            raise ConfigError("TANDEM_BROADCAST_NAMESPACE must be 1-64 of A-Z a-z 0-9 _ . -")
        if self.broadcast_max_message_bytes < 256:
            raise ConfigError("TANDEM_BROADCAST_MAX_MESSAGE_BYTES must be >= 256")
        if self.shards < 1:
            raise ConfigError("TANDEM_SHARDS must be >= 1")
        for name in ("rate_limit_per_minute", "max_body_bytes", "max_json_input_bytes", "max_string_chars",
                     "max_query_cost", "max_sockets_per_user", "max_subscriptions_per_user"):
            if getattr(self, name) < 0:
                raise ConfigError(f"TANDEM_{name.upper()} must be >= 0 (0: no limit)")
        if self.ws_init_timeout_s <= 0:
            raise ConfigError("TANDEM_WS_INIT_TIMEOUT_S must be > 0")
        if self.log_format not in ("text", "json"):
            raise ConfigError("TANDEM_LOG_FORMAT must be text or json")
        if self.user_token_ttl_s < 0:
            raise ConfigError("TANDEM_USER_TOKEN_TTL_S must be >= 0 (0: tokens never expire)")

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (one process owns workers)."""
        return self.database_url.startswith("sqlite://")


def _parse(name: str, type_name: str, raw: str) -> Any:
    var = "TANDEM_" + name.upper()
    try:
        if type_name == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{var}: cannot read {raw!r} as {type_name}") from None
    return raw
