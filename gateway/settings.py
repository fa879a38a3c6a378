"""Typed settings, read once from the environment (SPEC §9)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from providers.settings import ProviderSettings


class SettingsError(ValueError):
    """Configuration values are malformed; raised at start-up, never per request. `mistakes`: one
    line each, naming the variable (never a key's value)."""

    def __init__(self, *mistakes: str) -> None:
        super().__init__("; ".join(mistakes))
        self.mistakes = mistakes


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # The HTTP server's own bounds on reading a request (gateway.http.server): the request line and
    # headers, their number, the time to read them, an idle keep-alive connection, the time to read
    # the body.
    http_max_header_bytes: int = 16_384
    http_max_headers: int = 100
    http_header_timeout_s: float = 10.0
    http_keepalive_s: float = 5.0
    http_body_timeout_s: float = 30.0
    data_dir: str = "./.gateway"
    # key -> organization id. Never logged: see `__repr__`.
    api_keys: Mapping[str, str] = msgspec.field(default_factory=dict)
    max_messages_per_thread: int = 10_000
    max_metadata_bytes: int = 16_384
    max_body_bytes: int = 1_048_576
    thread_idle_ttl_s: float = 90 * 86_400.0
    thread_max_age_s: float = 365 * 86_400.0
    response_ttl_s: float = 86_400.0
    echo_context_tokens: int = 32_768
    provider_timeout_s: float = 120.0
    # How long a turn waits for the turn before it on the same thread (then 409 THREAD_BUSY).
    turn_wait_s: float = 30.0
    # The model of a turn that names none and whose assistant names none (SPEC §15).
    default_model: str = "echo"
    # On SIGTERM: how long the requests in flight may take to finish (streams are stopped before).
    shutdown_grace_s: float = 10.0
    # A stream cancelled within this keeps nothing (Freddy's "quick_edit"); later, its partial answer.
    cancel_quick_edit_s: float = 5.0
    purge_interval_s: float = 60.0
    sqlite_busy_timeout_s: float = 10.0
    # What each worker keeps of recently used threads' newest history (gateway.store.sqlite.windows).
    history_cache_mb: float = 64.0
    response_cache_size: int = 10_000
    log_level: str = "info"
    mongodb_uri: str | None = None
    mongodb_database: str = "gateway"
    mongodb_timeout_s: float = 5.0
    mongodb_pool_size: int = 100
    # auto: transactions when the server is a replica set or a sharded cluster.
    mongodb_transactions: str = "auto"
    config_file: str | None = None
    provider_attempt_timeout_s: float = 60.0
    provider_attempts: int = 2
    anthropic_max_tokens: int = 4096
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    redis_url: str | None = None
    redis_timeout_s: float = 0.25
    redis_retries: int = 1
    redis_pool_size: int = 64
    # The job queue's worker loop (gateway.core.jobs): a job's lease, handlers at once per process.
    job_lease_s: float = 30.0
    job_concurrency: int = 4
    # Memory (SPEC §12): memories given to a turn, the similarity floor, the similarity above which
    # a new memory is a near-duplicate of one kept; the model that extracts facts (unset: each user
    # message is kept as said), a provider's embedding model (unset: the local one) and the local
    # model's threads and precision (auto: int8 products where the CPU has 8-bit dot products).
    memory_top_k: int = 5
    memory_min_score: float = 0.25
    memory_duplicate_score: float = 0.9
    memory_model: str | None = None
    embedding_model: str | None = None
    embedding_threads: int = 1
    embedding_precision: str = "auto"
    # Summaries (SPEC §12): the model that writes them (unset: the turn's), how many tokens of a
    # thread may have left the window unsummarized before a summary job is queued (0: never), the
    # summary's length bound, and the attempts of one summary job.
    summary_model: str | None = None
    summary_after_tokens: int = 1000
    summary_max_tokens: int = 600
    summary_attempts: int = 3
    # Per-key rate limits (SPEC §15): requests and tokens per minute; unset: no limit, no check.
    rate_limit_rpm: int | None = None
    rate_limit_tpm: int | None = None
    # The key of the admin API (/admin/keys, gateway.http.admin); unset: no admin API. Never logged.
    admin_key: str | None = None
    # OpenTelemetry traces (gateway.observability.tracing), by the standard variables: off unless
    # an OTLP endpoint is set.
    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    otel_service_name: str = "thread-gateway"

    def __repr__(self) -> str:
        # Settings are printed in debugging sessions; keys must not be.
        fields = {f: getattr(self, f) for f in self.__struct_fields__ if f not in _SECRET}
        fields["api_keys"] = f"<{len(self.api_keys)} keys>"
        for name in _SECRET - {"api_keys"}:
            fields[name] = "<set>" if getattr(self, name) else None
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in fields.items())})"

    __str__ = __repr__

    def provider_settings(self) -> ProviderSettings:
        """The part of the settings the provider adapters are built from."""
        return ProviderSettings(
            attempt_timeout_s=self.provider_attempt_timeout_s,
            echo_context_tokens=self.echo_context_tokens,
            openai_api_key=self.openai_api_key,
            openai_base_url=self.openai_base_url,
            anthropic_api_key=self.anthropic_api_key,
            anthropic_base_url=self.anthropic_base_url,
            anthropic_max_tokens=self.anthropic_max_tokens,
        )


_SECRET = frozenset({"api_keys", "openai_api_key", "anthropic_api_key", "admin_key"})

_ENV: dict[str, tuple[str, type]] = {
    "GATEWAY_HOST": ("host", str),
    "GATEWAY_PORT": ("port", int),
    "GATEWAY_WORKERS": ("workers", int),
    "GATEWAY_HTTP_MAX_HEADER_BYTES": ("http_max_header_bytes", int),
    "GATEWAY_HTTP_MAX_HEADERS": ("http_max_headers", int),
    "GATEWAY_HTTP_HEADER_TIMEOUT_S": ("http_header_timeout_s", float),
    "GATEWAY_HTTP_KEEPALIVE_S": ("http_keepalive_s", float),
    "GATEWAY_HTTP_BODY_TIMEOUT_S": ("http_body_timeout_s", float),
    "GATEWAY_DATA_DIR": ("data_dir", str),
    "GATEWAY_MAX_MESSAGES_PER_THREAD": ("max_messages_per_thread", int),
    "GATEWAY_MAX_METADATA_BYTES": ("max_metadata_bytes", int),
    "GATEWAY_MAX_BODY_BYTES": ("max_body_bytes", int),
    "GATEWAY_THREAD_IDLE_TTL_S": ("thread_idle_ttl_s", float),
    "GATEWAY_THREAD_MAX_AGE_S": ("thread_max_age_s", float),
    "GATEWAY_RESPONSE_TTL_S": ("response_ttl_s", float),
    "GATEWAY_ECHO_CONTEXT_TOKENS": ("echo_context_tokens", int),
    "GATEWAY_PROVIDER_TIMEOUT_S": ("provider_timeout_s", float),
    "GATEWAY_TURN_WAIT_S": ("turn_wait_s", float),
    "GATEWAY_DEFAULT_MODEL": ("default_model", str),
    "GATEWAY_SHUTDOWN_GRACE_S": ("shutdown_grace_s", float),
    "GATEWAY_CANCEL_QUICK_EDIT_S": ("cancel_quick_edit_s", float),
    "GATEWAY_PURGE_INTERVAL_S": ("purge_interval_s", float),
    "GATEWAY_SQLITE_BUSY_TIMEOUT_S": ("sqlite_busy_timeout_s", float),
    "GATEWAY_HISTORY_CACHE_MB": ("history_cache_mb", float),
    "GATEWAY_RESPONSE_CACHE_SIZE": ("response_cache_size", int),
    "GATEWAY_LOG_LEVEL": ("log_level", str),
    "GATEWAY_MONGODB_URI": ("mongodb_uri", str),
    "GATEWAY_MONGODB_DATABASE": ("mongodb_database", str),
    "GATEWAY_MONGODB_TIMEOUT_S": ("mongodb_timeout_s", float),
    "GATEWAY_MONGODB_POOL_SIZE": ("mongodb_pool_size", int),
    "GATEWAY_MONGODB_TRANSACTIONS": ("mongodb_transactions", str),
    "GATEWAY_CONFIG_FILE": ("config_file", str),
    "GATEWAY_PROVIDER_ATTEMPT_TIMEOUT_S": ("provider_attempt_timeout_s", float),
    "GATEWAY_PROVIDER_ATTEMPTS": ("provider_attempts", int),
    "GATEWAY_ANTHROPIC_MAX_TOKENS": ("anthropic_max_tokens", int),
    "OPENAI_API_KEY": ("openai_api_key", str),
    "OPENAI_BASE_URL": ("openai_base_url", str),
    "ANTHROPIC_API_KEY": ("anthropic_api_key", str),
    "ANTHROPIC_BASE_URL": ("anthropic_base_url", str),
    "GATEWAY_REDIS_URL": ("redis_url", str),
    "GATEWAY_REDIS_TIMEOUT_S": ("redis_timeout_s", float),
    "GATEWAY_REDIS_RETRIES": ("redis_retries", int),
    "GATEWAY_REDIS_POOL_SIZE": ("redis_pool_size", int),
    "GATEWAY_JOB_LEASE_S": ("job_lease_s", float),
    "GATEWAY_JOB_CONCURRENCY": ("job_concurrency", int),
    "GATEWAY_MEMORY_TOP_K": ("memory_top_k", int),
    "GATEWAY_MEMORY_MIN_SCORE": ("memory_min_score", float),
    "GATEWAY_MEMORY_DUPLICATE_SCORE": ("memory_duplicate_score", float),
    "GATEWAY_MEMORY_MODEL": ("memory_model", str),
    "GATEWAY_EMBEDDING_MODEL": ("embedding_model", str),
    "GATEWAY_EMBEDDING_THREADS": ("embedding_threads", int),
    "GATEWAY_EMBEDDING_PRECISION": ("embedding_precision", str),
    "GATEWAY_SUMMARY_MODEL": ("summary_model", str),
    "GATEWAY_SUMMARY_AFTER_TOKENS": ("summary_after_tokens", int),
    "GATEWAY_SUMMARY_MAX_TOKENS": ("summary_max_tokens", int),
    "GATEWAY_SUMMARY_ATTEMPTS": ("summary_attempts", int),
    "GATEWAY_RATE_LIMIT_RPM": ("rate_limit_rpm", int),
    "GATEWAY_RATE_LIMIT_TPM": ("rate_limit_tpm", int),
    "GATEWAY_ADMIN_KEY": ("admin_key", str),
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("otlp_endpoint", str),
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ("otlp_traces_endpoint", str),
    "OTEL_SERVICE_NAME": ("otel_service_name", str),
}


def parse_api_keys(raw: str) -> dict[str, str]:
    """Parse `key=org,key=org`; whitespace around items is ignored."""
    keys: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, org = item.partition("=")
        key, org = key.strip(), org.strip()
        if not sep or not key or not org:
            # The item is not echoed: it may be a key.
            raise SettingsError("GATEWAY_API_KEYS: every item must be `key=organization_id`")
        keys[key] = org
    return keys


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from environment variables (default `os.environ`), then `overrides`."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    mistakes: list[str] = []
    for var, (field, kind) in _ENV.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        try:
            values[field] = kind(raw)
        except ValueError:
            mistakes.append(f"{var}: expected {_KINDS.get(kind, kind.__name__)}, got {raw[:64]!r}")
    if env.get("GATEWAY_API_KEYS"):
        try:
            values["api_keys"] = parse_api_keys(env["GATEWAY_API_KEYS"])
        except SettingsError as exc:
            mistakes += exc.mistakes
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    mistakes += _check(settings)
    if mistakes:
        raise SettingsError(*mistakes)
    return settings


_KINDS = {int: "a whole number", float: "a number"}
_LOG_LEVELS = ("debug", "info", "warning", "error")


def _check(s: Settings) -> list[str]:
    """Every mistake of `s`, one line each, named by its environment variable."""
    positive = (
        "max_messages_per_thread",
        "max_metadata_bytes",
        "max_body_bytes",
        "thread_idle_ttl_s",
        "thread_max_age_s",
        "response_ttl_s",
        "echo_context_tokens",
        "provider_timeout_s",
        "purge_interval_s",
        "shutdown_grace_s",
        "workers",
        "http_max_header_bytes",
        "http_max_headers",
        "http_header_timeout_s",
        "http_keepalive_s",
        "http_body_timeout_s",
        "mongodb_timeout_s",
        "mongodb_pool_size",
        "redis_timeout_s",
        "redis_pool_size",
        "provider_attempt_timeout_s",
        "provider_attempts",
        "anthropic_max_tokens",
        "response_cache_size",
        "sqlite_busy_timeout_s",
        "job_lease_s",
        "job_concurrency",
        "memory_top_k",
        "embedding_threads",
        "summary_max_tokens",
        "summary_attempts",
    )
    out = [f"{_VAR.get(name, name)} must be positive" for name in positive if getattr(s, name) <= 0]
    if s.mongodb_transactions not in ("auto", "on", "off"):
        out.append("GATEWAY_MONGODB_TRANSACTIONS must be auto, on or off")
    if s.embedding_precision not in ("auto", "fp32", "int8"):
        out.append("GATEWAY_EMBEDDING_PRECISION must be auto, fp32 or int8")
    for name in (
        "cancel_quick_edit_s",
        "summary_after_tokens",
        "history_cache_mb",
        "turn_wait_s",
        "redis_retries",
    ):
        if getattr(s, name) < 0:
            out.append(f"{_VAR.get(name, name)} must not be negative")
    for name in ("rate_limit_rpm", "rate_limit_tpm"):
        limit = getattr(s, name)
        if limit is not None and limit <= 0:
            out.append(f"{_VAR[name]} must be positive (leave it unset for no limit)")
    for name in ("otlp_endpoint", "otlp_traces_endpoint"):
        url = getattr(s, name)
        if url is not None and not _is_http_url(url):
            out.append(f"{_VAR[name]} must be an http:// or https:// URL, got {url[:64]!r}")
    if not s.otel_service_name.strip():
        out.append("OTEL_SERVICE_NAME must not be blank")
    if not 0 < s.port < 65536:
        out.append("GATEWAY_PORT must be in 1..65535")
    out += _admin_key_mistakes(s)
    if s.log_level.lower() not in _LOG_LEVELS:
        out.append(f"GATEWAY_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {s.log_level[:32]!r}")
    return out


ADMIN_KEY_MIN = 24


def _admin_key_mistakes(s: Settings) -> list[str]:
    """The admin key is long enough not to be guessed, printable, and no organization's key (the
    mistakes never show the key)."""
    key = s.admin_key
    if key is None:
        return []
    if len(key) < ADMIN_KEY_MIN or not key.isascii() or not key.isprintable() or " " in key:
        return [f"GATEWAY_ADMIN_KEY must be at least {ADMIN_KEY_MIN} printable ASCII characters, no spaces"]
    if key in s.api_keys:
        return ["GATEWAY_ADMIN_KEY must not be one of GATEWAY_API_KEYS: an admin key is no organization's"]
    return []


def _is_http_url(url: str) -> bool:
    scheme, sep, rest = url.partition("://")
    return bool(sep) and scheme.lower() in ("http", "https") and bool(rest.split("/", 1)[0])


# The environment variable of each field (what a mistake is named by).
_VAR = {field: var for var, (field, _) in _ENV.items()}
