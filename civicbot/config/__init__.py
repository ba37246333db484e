"""Project family configuration: YAML files in `config/`, validated by pydantic models.

`load_config(path)` reads one file and returns a `Config`, or raises `ConfigError` whose
message is one line naming the file, the field path and the problem. The models also ship as
JSON Schema (`config_json_schema()`, committed as `config/schema.json`; regenerate it with
`python -m civicbot.config > config/schema.json`). Tokens never live in a config file: the
config names environment variables or a token file, and `resolve_tokens()` reads them.

The models, one per section, are in `models`; loading, errors, tokens and the schema in `loading`.
Import from here: every name below is `civicbot.config`'s.
"""

from civicbot.config_values import (  # noqa: F401 (cron_trigger and the name rules: importable from here too)
    GITHUB_TOKEN_RE,
    OWNER_RE,
    REPO_NAME_RE,
    REPO_PATTERN,
    RESOURCES,
    SECRET_KEY_RE,
    SECRET_KEYS_ALLOWED,
    TOKEN_ADVICE,
    BaseUrl,
    Cron,
    EnvName,
    EnvNames,
    FilePath,
    LocalPath,
    Login,
    MuniCode,
    NonEmpty,
    Pattern,
    PrefCode,
    RepoName,
    Resource,
    Seconds,
    Slug,
    TimeZoneName,
    Topic,
    cron_trigger,
)

from . import models
from .loading import (  # noqa: F401 (the limits: importable from here too)
    CONFIG_MAX_BYTES,
    TOKEN_FILE_MAX_BYTES,
    YAML_MAX_DEPTH,
    ConfigError,
    ConfigIssue,
    config_json_schema,
    load_config,
    resolve_tokens,
)
from .models import *  # noqa: F403 (every section's model, as models.__all__ lists them)

__all__ = ["ConfigError", "ConfigIssue", "RESOURCES", "config_json_schema", "load_config", "resolve_tokens",
           *models.__all__]
