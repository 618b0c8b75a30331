"""Typed configuration from GRIDSAFE_* environment variables; every field is documented in README."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.timezone import zone
from backend.validation import WUHAN, Area


class ConfigurationError(RuntimeError):
    """Raised at start-up when the configuration cannot work; the message says what to set."""


def _area(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return Area.parse(value)
    except ValueError as error:
        raise ConfigurationError(f"GRIDSAFE_AREA: {error}.") from None


class Settings(BaseSettings):
    """One object for the whole configuration, passed into `create_app(settings)`."""

    model_config = SettingsConfigDict(env_prefix="GRIDSAFE_", extra="ignore", frozen=True)

    env: Literal["dev", "production"] = Field(
        "dev",
        description="`dev` generates missing secrets into the data folder; `production` refuses to start without them.",
    )
    data_dir: Path = Field(
        Path("data"),
        description="Folder for the SQLite database, the embedded broker, photos and generated keys.",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite in the data folder."
    )
    broker_url: str = Field(
        "",
        description="Celery broker URL; empty means the embedded SQLite broker in the data folder.",
    )
    secret_key: str = Field(
        "", description="Signs sessions, CSRF tokens and QR codes; at least 32 characters."
    )
    qr_old_secret_keys: str = Field(
        "",
        description="Earlier secret keys whose printed QR codes still verify, comma-separated; drop one to retire it.",
    )
    public_url: str = Field(
        "",
        description="Base URL printed in QR codes, e.g. https://gridsafe.example.org; empty means the request's.",
    )
    vapid_private_key: str = Field("", description="Web-push VAPID private key (PEM or base64url).")
    vapid_public_key: str = Field(
        "",
        description="Web-push VAPID application server key (base64url, uncompressed P-256 point).",
    )
    vapid_subject: str = Field(
        "mailto:ops@gridsafe.example.org", description="VAPID `sub` claim: a mailto: or https: URL."
    )
    default_locale: Literal["zh", "en"] = Field(
        "zh", description="UI language when neither the user nor the browser picks one."
    )
    host: str = Field("127.0.0.1", description="Address `gridsafe run` listens on.")
    port: int = Field(8000, description="Port `gridsafe run` listens on.")
    cookie_secure: bool | None = Field(
        None, description="Send cookies only over HTTPS; empty means yes in production, no in dev."
    )
    session_hours: int = Field(12, ge=1, description="How long a sign-in lasts.")
    sign_in_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins allowed per account or address within the window."
    )
    sign_in_window_minutes: int = Field(
        15, ge=1, description="Window for counting failed sign-ins."
    )
    public_report_max_per_address: int = Field(
        5,
        ge=1,
        description="Public reports (from a scanned poster) accepted per address per window.",
    )
    public_report_window_minutes: int = Field(
        60, ge=1, description="Window for counting public reports per address."
    )
    run_worker: bool = Field(
        True, description="Whether `gridsafe run` also starts a Celery worker with beat."
    )
    push_ttl_seconds: int = Field(
        43200, ge=0, description="How long a push service keeps a push for a phone that is off."
    )
    push_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one request to a push service or the second channel."
    )
    push_threads: int = Field(
        16, ge=1, le=256, description="Parallel sends inside one delivery task."
    )
    push_max_attempts: int = Field(
        6, ge=1, description="Attempts per delivery before it is recorded as failed."
    )
    push_sweep_seconds: int = Field(
        30, ge=1, description="How often beat re-queues deliveries left pending past their time."
    )
    second_channel: Literal["none", "log", "webhook"] = Field(
        "log", description="Second channel beside web push: none, log (the worker log) or webhook."
    )
    second_channel_url: str = Field(
        "", description="Webhook URL of the SMS / work-messaging gateway (second_channel=webhook)."
    )
    second_channel_secret: str = Field(
        "", description="Key of the webhook's HMAC-SHA256 signature header."
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description="IANA time zone in which people read and enter times; the database keeps UTC.",
    )
    map_tile_url: str = Field(
        "",
        description="Raster tile URL template for the risk map ({z}/{x}/{y}); empty: no tiles.",
    )
    area: Annotated[Area, NoDecode, BeforeValidator(_area)] = Field(
        WUHAN,
        description="Bounding box the deployment serves, min_lon,min_lat,max_lon,max_lat:"
        " every coordinate entered or imported must lie inside it.",
    )

    risk_weights: str = Field(
        "",
        description="Path of a risk weights TOML file (like backend/risk/weights.toml); empty: the shipped weights.",
    )
    inspection_intervals: str = Field(
        "red=30,orange=90,yellow=180,blue=365",
        description="Days between inspections per risk colour, e.g. red=30,orange=90,yellow=180,blue=365.",
    )
    template_reload: bool = Field(
        False,
        description="Re-read a template when its file changes (development; `gridsafe run --reload` turns it on).",
    )
    database_pool_size: int = Field(
        15,
        ge=1,
        le=500,
        description="Database connections each web or worker process keeps at most.",
    )
    database_pool_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How long a request waits for a free database connection before it is answered 503.",
    )
    max_concurrent_requests: int = Field(
        64,
        ge=1,
        le=10_000,
        description="Requests one web process works on at once; more wait their turn in line.",
    )
    queue_wait_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        description="How long a request waits in line before it is answered 503 with Retry-After.",
    )
    risk_delay_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Delay before a worker rescores risk after a change: the changes of this window share one run.",
    )

    @model_validator(mode="after")
    def _check_risk(self) -> Settings:
        from backend.risk.scoring import load_weights, parse_intervals  # pure, stdlib only

        try:
            parse_intervals(self.inspection_intervals)
            if self.risk_weights:
                load_weights(Path(self.risk_weights))
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        return self

    @model_validator(mode="after")
    def _check_timezone(self) -> Settings:
        try:
            zone(self.timezone)
        except ValueError:
            raise ConfigurationError(
                f"GRIDSAFE_TIMEZONE={self.timezone!r} is not a time zone this machine knows,"
                " e.g. Asia/Shanghai."
            ) from None
        return self

    @model_validator(mode="after")
    def _check_public_url(self) -> Settings:
        if self.public_url and not self.public_url.startswith(("https://", "http://")):
            raise ConfigurationError("GRIDSAFE_PUBLIC_URL must start with https:// or http://.")
        return self

    @model_validator(mode="after")
    def _check_second_channel(self) -> Settings:
        if self.second_channel == "webhook" and not (
            self.second_channel_url.startswith(("https://", "http://"))
            and self.second_channel_secret
        ):
            raise ConfigurationError(
                "GRIDSAFE_SECOND_CHANNEL=webhook needs GRIDSAFE_SECOND_CHANNEL_URL (http or https)"
                " and GRIDSAFE_SECOND_CHANNEL_SECRET."
            )
        return self

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env != "production":
            return self
        missing = [
            f"GRIDSAFE_{name.upper()}"
            for name in (
                "secret_key",
                "vapid_private_key",
                "vapid_public_key",
                "database_url",
                "broker_url",
            )
            if not getattr(self, name)
        ]
        if missing:
            raise ConfigurationError(
                "GRIDSAFE_ENV=production needs these settings: " + ", ".join(missing)
            )
        if len(self.secret_key) < 32:
            raise ConfigurationError("GRIDSAFE_SECRET_KEY must be at least 32 characters long.")
        return self

    @property
    def qr_old_secrets(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.qr_old_secret_keys.split(",") if part.strip())

    @property
    def zone(self) -> ZoneInfo:
        """The zone of GRIDSAFE_TIMEZONE (checked at start-up), for showing and reading times."""
        return zone(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.is_production if self.cookie_secure is None else self.cookie_secure

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gridsafe.sqlite3').resolve()}"

    @cached_property
    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite3').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured secret, or in dev one generated once into the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
