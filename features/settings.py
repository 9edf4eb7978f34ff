"""Every setting of memberscore in one object, read from the environment once, at the edge.

The edge is where a process starts: the ``memberscore`` command (``cli``) and the service's start-up
(``serving.service``). They call ``load_settings`` and pass plain values down; nothing below reads
the environment (``tests/test_architecture.py`` checks it). A value that cannot be used stops the
start with one line naming the variable and the reason, instead of failing later mid-request.

It lives in ``features``, the lowest layer, only so that both edges may import it; the layers
themselves take values, not this object. README.md ("Settings") documents each variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.data_key import DataKey, parse_data_key
from features.formats import CurrencyError, check_currency
from features.project import DEFAULT_PROJECT, check_project

PREFIX = "MEMBERSCORE_"
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)", re.IGNORECASE)
MIN_API_KEY_CHARS = 24  # a short key can be guessed online; `memberscore keys create` makes 46 characters
MIN_PSEUDONYM_KEY_CHARS = 16  # a short key could be guessed by hashing known ids under every candidate key
DEFAULT_MAX_BODY_BYTES = 16 * 2**20
DEFAULT_AUDIT_LOG_MAX_BYTES = 10 * 2**20
SECRET_FIELDS = frozenset({"api_keys", "pseudonym_key", "data_key"})
OTHERS_MAY_READ = 0o077  # permission bits of a key file that let someone else read or change it
# The libraries' own switches: BentoML's usage tracking (the `bentoml serve` process reports every
# 12 hours) and MLflow 3's telemetry (a client started when mlflow is imported). Both read these once,
# at start, so they are set in the environment before either library is imported or a server starts.
QUIET_ENVIRONMENT = {"BENTOML_DO_NOT_TRACK": "True", "MLFLOW_DISABLE_TELEMETRY": "true"}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


class Settings(BaseSettings):
    """memberscore's settings: ``MEMBERSCORE_<FIELD>`` each (MLflow's own ``MLFLOW_TRACKING_URI`` too)."""

    # VAR= (empty) in a shell or a compose file means "not set": the default applies
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", env_ignore_empty=True)

    project: str = Field(DEFAULT_PROJECT, description="which project's models and snapshots (a retailer each)")
    snapshot_dir: Path = Field(Path("var/snapshots"), description="root of the snapshot store (one folder per project)")
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI"),
        description="MLflow tracking and registry; default a SQLite file under ./mlruns")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="where features are computed")
    spark_master: str | None = Field(None, description="Spark master with engine spark; default local[*]")
    duckdb_memory_limit: str | None = Field(
        None, description="most memory one DuckDB query may hold (e.g. 4GB; past it, it spills to disk); "
                          "unset: DuckDB's default, 80% of the machine's")
    segment_rules: Path | None = Field(None, description="YAML merged over the packaged segment rules (snapshots and /segments)")
    tier_programme: Path | None = Field(
        None, description="tier programme YAML (cards, 保级, AA; features/tier_programme.yaml is an example); "
                          "unset: quantile tiers from the segment rules")
    kpi_rules: Path | None = Field(None, description="YAML over the packaged KPI alert thresholds (`kpis --alerts`, /alerts)")
    drift_rules: Path | None = Field(None, description="YAML over the packaged drift thresholds (features/drift_rules.yaml; /monitoring)")
    refresh_rules: Path | None = Field(None, description="YAML over the packaged rules of when `memberscore refresh` retrains "
                                       "or alerts (features/refresh_rules.yaml)")
    kpis_with_snapshot: bool = Field(True, description="snapshot and train also store the KPIs for /kpis and /alerts")
    poll_seconds: float = Field(
        5.0, ge=0, description="how often the service looks for a new champion or snapshot (0: every request)")
    min_snapshot_ratio: float = Field(0.5, ge=0, le=1,
                                      description="share of members a new snapshot must keep to be served (0: any)")
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, gt=0, description="largest request body the service reads")
    api_keys: SecretStr = Field(SecretStr(""), description="comma-separated API keys, role admin, 24+ characters each (prefer a key file)")
    api_key_file: Path | None = Field(None, description="key file: hashes, names, roles, scopes (`memberscore keys`)")
    insecure_no_auth: bool = Field(False, description="serve without keys (local use only; `serve --insecure-no-auth`)")
    pseudonym_key: SecretStr | None = Field(None, description="secret for pseudonymised member ids in lists")
    jwt_issuer: str | None = Field(None, description="bearer tokens: the identity provider's issuer (`iss`)")
    jwt_audience: str | None = Field(None, description="bearer tokens: the audience (`aud`) they must name")
    jwt_jwks_file: Path | None = Field(None, description="bearer tokens: the provider's public keys (JWKS JSON)")
    jwt_role_claim: str = Field("memberscore_role", description="bearer tokens: the claim naming the role")
    campaign_db: str | None = Field(None, description="campaign store: sqlite:///path or postgresql+psycopg://...; "
                                    "default sqlite:///var/campaigns.db")
    telemetry: bool = Field(False, description="let BentoML (usage tracking) and MLflow (telemetry) report usage "
                                              "to their makers; unset: both are switched off")
    currency: str | None = Field(None, description="ISO 4217 code of the project's money (e.g. CNY, USD, GBP): "
                                 "amounts in reasons, lists and summaries carry its symbol; unset: plain numbers")
    audit_log: Path = Field(Path("var/audit.log"), description="the service's audit log (JSON lines, owner-only; "
                            "`memberscore audit`); rotated files beside it end .1, .2, ...")
    audit_log_max_bytes: int = Field(DEFAULT_AUDIT_LOG_MAX_BYTES, ge=4096,
                                     description="the audit log is rotated when a line would take it past this size")
    audit_log_backups: int = Field(9, ge=1, le=999, description="rotated audit log files kept (the oldest is deleted)")
    score_history_days: int = Field(730, ge=0, description="days of served scores kept for backtests "
                                    "(`<snapshot_dir>/<project>/history/`), counted back from the newest; 0: all")
    data_key: SecretStr | None = Field(None, description="data key (32 random bytes, URL-safe base64): snapshots, "
                                       "rejects, lists, reports and campaign member ids encrypted at rest; unset: plain")
    data_key_file: Path | None = Field(None, description="file holding the data key (owner-only; "
                                       "`memberscore data-key new FILE`); instead of MEMBERSCORE_DATA_KEY")

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_name(cls, value: object) -> object:
        """Case and spaces do not matter; blank is the default."""
        return (value.strip().lower() or "duckdb") if isinstance(value, str) else value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        """A size DuckDB reads: a number and a unit (KB, MB, GB, TB, or KiB ... TiB)."""
        if value is not None and not MEMORY_SIZE.fullmatch(value.strip()):
            raise ValueError("expected a number and a unit, e.g. 4GB or 512MiB")
        return value.strip() if value is not None else None

    @field_validator("project")
    @classmethod
    def _known_project_name(cls, value: str) -> str:
        return check_project(value, source="value")

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        """A typo'd code would put a wrong symbol before every amount: refused at start."""
        if value is None:
            return None
        try:
            return check_currency(value)
        except CurrencyError:
            raise ValueError("not an ISO 4217 currency code (e.g. CNY, USD, GBP, EUR)") from None

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, value: SecretStr) -> SecretStr:
        """A weak key stops the start (never echoed: which key, by position, and its length)."""
        keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
        for position, key in enumerate(keys, start=1):
            if len(key) < MIN_API_KEY_CHARS:
                raise ValueError(f"key {position} of {len(keys)} has {len(key)} characters; API keys need at least "
                                 f"{MIN_API_KEY_CHARS} (make one with `memberscore keys create`)")
        return value

    @field_validator("pseudonym_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_PSEUDONYM_KEY_CHARS:
            raise ValueError(f"{len(value.get_secret_value())} characters is too short to keep pseudonyms secret; "
                             f"use at least {MIN_PSEUDONYM_KEY_CHARS}")
        return value

    @field_validator("data_key")
    @classmethod
    def _data_key_format(cls, value: SecretStr | None) -> SecretStr | None:
        """A key of the wrong shape is refused at start, not when the first file is written."""
        if value is not None:
            parse_data_key(value.get_secret_value())
        return value

    @field_validator("data_key_file")
    @classmethod
    def _readable_private_key_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """One key source only; the file exists, only its owner may read it, and it holds a key."""
        if value is None:
            return None
        if info.data.get("data_key") is not None:
            raise ValueError("set MEMBERSCORE_DATA_KEY or MEMBERSCORE_DATA_KEY_FILE, not both")
        data_key_file_text(value)
        return value

    @field_validator("spark_master", "mlflow_tracking_uri", "segment_rules", "tier_programme", "kpi_rules", "drift_rules", "refresh_rules", "api_key_file",
                     "campaign_db", "pseudonym_key", "currency", "data_key", "data_key_file", "jwt_issuer",
                     "jwt_audience", "jwt_jwks_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """Only spaces mean "not set" too, for the settings that may be unset."""
        return None if isinstance(value, str) and not value.strip() else value

    def plain_api_keys(self) -> list[str]:
        return [key.strip() for key in self.api_keys.get_secret_value().split(",") if key.strip()]

    def encryption_key(self) -> DataKey | None:
        """The data key from MEMBERSCORE_DATA_KEY or its file (checked at load), or None: data stays plain."""
        if self.data_key is not None:
            return parse_data_key(self.data_key.get_secret_value())
        return parse_data_key(data_key_file_text(self.data_key_file)) if self.data_key_file is not None else None


def data_key_file_text(path: Path) -> str:
    """The text of a data key file, checked like ssh checks a private key: refused when others may read it.

    The key is checked too; a ValueError (never showing the file's content) says what is wrong.
    """
    if not path.is_file():
        raise ValueError("no such file")
    mode = path.stat().st_mode & 0o777
    if mode & OTHERS_MAY_READ:
        raise ValueError(f"mode {mode:04o} lets other users read the key; run chmod 600 on it")
    text = path.read_text(encoding="ascii", errors="replace")
    parse_data_key(text)
    return text


def variable(field: str) -> str:
    """The environment variable behind ``field``."""
    alias = Settings.model_fields[field].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else f"{PREFIX}{field.upper()}"  # type: ignore[return-value]


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment (``overrides`` win, e.g. a CLI option); one-line errors."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates the values
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        name = variable(field) if field in Settings.model_fields else field
        shown = "" if field in SECRET_FIELDS else f" {first.get('input')!r}"  # a secret is never echoed
        raise SettingsError(f"{name}{shown}: {first['msg'].removeprefix('Value error, ')}") from None


def keep_quiet(settings: Settings, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Switch BentoML's usage tracking and MLflow's telemetry off in ``environ`` (this process's
    environment, inherited by the processes it starts) unless ``MEMBERSCORE_TELEMETRY`` opts in.

    Called by each edge before it imports MLflow or starts a server. Returns what it set (nothing
    when the user opted in: their own BENTOML_DO_NOT_TRACK or MLFLOW_DISABLE_TELEMETRY then apply).
    """
    if settings.telemetry:
        return {}
    target = os.environ if environ is None else environ
    target.update(QUIET_ENVIRONMENT)
    return dict(QUIET_ENVIRONMENT)


def documented() -> Mapping[str, tuple[str, str]]:
    """variable -> (default, description), the README's settings table (a test checks they agree)."""
    rows = {}
    for field, info in Settings.model_fields.items():
        default = info.default.get_secret_value() if isinstance(info.default, SecretStr) else info.default
        rows[variable(field)] = ("" if default in (None, "") else str(default), info.description or "")
    return rows
