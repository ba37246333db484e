"""The configuration layer: example configs load, malformed ones fail in one clear line, tokens stay out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from civicbot.config import (
    RESOURCES,
    Config,
    ConfigError,
    config_json_schema,
    load_config,
    resolve_tokens,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
DERIVATIVES_CSV = ROOT.parent / "shared" / "data" / "tokyo-covid19" / "derivatives.csv"
FAKE_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"  # token-shaped, not a real one

MINIMAL = "name: t\nupstream: Tokyo-Metro-Gov/covid19\n"


def write(tmp_path: Path, text: str | bytes, name: str = "x.yml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def config_from(tmp_path: Path, text: str = MINIMAL) -> Config:
    return load_config(write(tmp_path, text))


# --- the example configs --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tokyo-covid19.yml", "demo.yml"])
def test_example_configs_load(name):
    config = load_config(CONFIG_DIR / name)
    assert config.upstream == "Tokyo-Metro-Gov/covid19"
    assert config.timezone == "Asia/Tokyo"


def test_tokyo_config():
    config = load_config(CONFIG_DIR / "tokyo-covid19.yml")
    assert config.github.base_url == "https://api.github.com"
    assert config.database.path == Path("var/tokyo-covid19.db")
    assert config.discovery.forks.enabled and config.discovery.forks.recursive
    assert config.discovery.shared_root.enabled and config.discovery.shared_root.topics
    assert len(config.discovery.listed) == 15
    assert config.bots.is_bot("github-actions[bot]") and config.bots.is_bot("Netlify[bot]")
    assert config.bots.is_bot("some-app[bot]") and not config.bots.is_bot("kebhr")
    # everything the site and the report show: code size (public value), profiles (places), reviews
    assert config.harvest.resources == list(RESOURCES)


def test_demo_config_points_at_the_simulator():
    config = load_config(CONFIG_DIR / "demo.yml")
    assert config.github.base_url == "http://127.0.0.1:8765"
    assert config.github.token_env == ["CIVICBOT_DEMO_TOKEN"]
    assert config.database.path == Path("var/demo.db")
    assert resolve_tokens(config, {"CIVICBOT_DEMO_TOKEN": "sandbox-token"}) == ["sandbox-token"]


@pytest.mark.shared
def test_tokyo_config_lists_the_derivatives_of_the_shared_data():
    if not DERIVATIVES_CSV.exists():
        pytest.skip(f"{DERIVATIVES_CSV} is absent; it is read from beside the project")
    with DERIVATIVES_CSV.open(encoding="utf-8", newline="") as f:
        expected = [
            (r["repo"], r["prefecture"], r["pref_code"], r["municipality"] or None, r["muni_code"] or None)
            for r in csv.DictReader(f)
        ]
    listed = load_config(CONFIG_DIR / "tokyo-covid19.yml").discovery.listed
    assert [(d.repo, d.prefecture, d.pref_code, d.municipality, d.muni_code) for d in listed] == expected


def test_defaults(tmp_path):
    config = config_from(tmp_path)
    assert config.github.base_url == "https://api.github.com"
    assert config.github.per_page == 100 and config.github.rate_limit_reserve == 200
    assert config.github.throttle.seconds_between_requests == 0
    assert config.harvest.resources == list(RESOURCES)
    assert config.timezone == "UTC" and config.database.path == Path("var/civicbot.db")
    assert config.bots.is_bot("dependabot[bot]")


def test_enterprise_base_url_and_trailing_slash(tmp_path):
    config = config_from(tmp_path, MINIMAL + "github: {base_url: 'https://ghe.example.org/api/v3/'}\n")
    assert config.github.base_url == "https://ghe.example.org/api/v3"


def test_loading_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a relative database path would land
    path = write(tmp_path, MINIMAL + "database: {path: sub/db.sqlite}\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    load_config(path)
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "name: [", "bad.yml"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted([*before, "bad.yml"])


# --- malformed configs ----------------------------------------------------------------------

# (id, file text, text expected in the message after "FILE: ")
MALFORMED = [
    ("missing upstream", "name: t\n", "upstream: Field required"),
    ("missing name", "upstream: a/b\n", "name: Field required"),
    ("repo without owner", "name: t\nupstream: covid19\n", "upstream: expected owner/name"),
    ("space in repo", "name: t\nupstream: Tokyo Metro/covid19\n", "upstream: owner 'Tokyo Metro'"),
    ("path traversal", "name: t\nupstream: ../etc\n", "upstream: owner '..'"),
    ("dotdot repo name", "name: t\nupstream: Tokyo-Metro-Gov/..\n", "upstream: repo name '..'"),
    ("extra slash", "name: t\nupstream: a/b/c\n", "upstream: repo name 'b/c'"),
    ("unknown key", MINIMAL + "upstrem: a/b\n", "upstrem: unknown key; expected one of: name, title, upstream"),
    ("unknown nested key", MINIMAL + "github: {per_pages: 5}\n", "github.per_pages: unknown key; expected one of: base_url"),
    ("unknown key in a list item", MINIMAL + "discovery: {listed: [{repo: a/b, city: x}]}\n",
     "discovery.listed.0.city: unknown key; expected one of: repo, prefecture"),
    ("token key", MINIMAL + "github: {token: abc123}\n", "github.token: secrets are not allowed"),
    ("password key", MINIMAL + "password: hunter2\n", "password: secrets are not allowed"),
    ("token-like value", MINIMAL + f"title: {{en: {FAKE_TOKEN}}}\n", "title.en: this looks like a GitHub token"),
    ("fine-grained token value", MINIMAL + "bots: {logins: [github_pat_11ABCDEFG0123456789abcdef_xyz]}\n",
     "bots.logins.0: this looks like a GitHub token"),
    ("bad time zone", MINIMAL + "timezone: Asia/Tokio\n", "timezone: 'Asia/Tokio' is not a known IANA time zone"),
    ("time zone traversal", MINIMAL + "timezone: ../../etc/passwd\n", "timezone: '../../etc/passwd' is not"),
    ("per_page 0", MINIMAL + "github: {per_page: 0}\n", "github.per_page: Input should be greater than or equal to 1"),
    ("per_page 101", MINIMAL + "github: {per_page: 101}\n", "github.per_page: Input should be less than or equal to 100"),
    ("base URL not http", MINIMAL + "github: {base_url: 'ftp://example.org'}\n", "github.base_url: 'ftp://example.org' is not an http(s) URL"),
    ("base URL without host", MINIMAL + "github: {base_url: 'api.github.com'}\n", "github.base_url: 'api.github.com' is not"),
    ("base URL with query", MINIMAL + "github: {base_url: 'https://h/api/v3?x=1'}\n", "github.base_url: the base URL takes no query"),
    ("base URL with credentials", MINIMAL + "github: {base_url: 'https://u:p@h/api/v3'}\n", "github.base_url: the base URL takes no credentials"),
    ("bad env var name", MINIMAL + "github: {token_env: [MY-TOKEN]}\n", "github.token_env.0: 'MY-TOKEN' is not an environment variable name"),
    ("bad regex", MINIMAL + "bots: {patterns: ['ok', '([bot']}\n", "bots.patterns.1: pattern '([bot' is not a valid regular expression"),
    ("bad bot login", MINIMAL + "bots: {logins: ['a b']}\n", "bots.logins.0: 'a b' is not a GitHub login"),
    ("unknown resource", MINIMAL + "harvest: {resources: [issues, stars]}\n", "harvest.resources.1: Input should be 'repo'"),
    ("pref_code 48", MINIMAL + "discovery: {listed: [{repo: a/b, pref_code: '48'}]}\n", "discovery.listed.0.pref_code: '48' is not a JIS X 0401"),
    ("pref_code unquoted", MINIMAL + "discovery: {listed: [{repo: a/b, pref_code: 13}]}\n", "discovery.listed.0.pref_code: write the code as a quoted string"),
    ("bad muni_code", MINIMAL + "discovery: {listed: [{repo: a/b, muni_code: '2810'}]}\n", "discovery.listed.0.muni_code: '2810' is not a municipality code"),
    ("muni_code of another prefecture", MINIMAL + "discovery: {listed: [{repo: a/b, pref_code: '13', muni_code: '28100'}]}\n",
     "discovery.listed.0: muni_code '28100' is not in prefecture '13'"),
    ("derivative listed twice", MINIMAL + "discovery: {listed: [{repo: a/b}, {repo: A/B}]}\n", "discovery.listed: A/B is listed twice"),
    ("bad listed repo", MINIMAL + "discovery: {listed: [{repo: 'a/b c'}]}\n", "discovery.listed.0.repo: repo name 'b c'"),
    ("bad topic", MINIMAL + "discovery: {shared_root: {topics: [COVID 19]}}\n", "discovery.shared_root.topics.0: 'COVID 19' is not a GitHub topic"),
    ("negative timeout", MINIMAL + "github: {timeout: -1}\n", "github.timeout: Input should be greater than 0"),
    ("infinite wait", MINIMAL + "github: {retry: {max_rate_limit_wait: .inf}}\n", "github.retry.max_rate_limit_wait: Input should be a finite number"),
    ("negative throttle", MINIMAL + "github: {throttle: {seconds_between_requests: -0.1}}\n",
     "github.throttle.seconds_between_requests: Input should be greater than or equal to 0"),
    ("bad project name", "name: Tokyo COVID\nupstream: a/b\n", "name: String should match pattern"),
    ("section not a mapping", MINIMAL + "github: https://api.github.com\n", "github: Input should be a valid dictionary"),
    ("YAML syntax error", "name: t\nupstream: [a/b\n", "line 3, column 1: YAML error:"),
    ("duplicate key", MINIMAL + "name: u\n", "line 3, column 1: YAML error: duplicate key 'name'"),
    ("empty file", "", "the file is empty"),
    ("comments only", "# nothing\n", "the file is empty"),
    ("list at top level", "- name: t\n", "the top level must be a mapping of settings, not a list"),
    ("string at top level", "hello\n", "the top level must be a mapping of settings, not a string"),
    ("non-UTF-8 file", b"name: t\nupstream: a/b\ntitle: {ja: \x93\x8c\x8b\x9e}\n", "line 3: not UTF-8 text (byte 0x93); save the file as UTF-8"),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_config_is_one_clear_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {expected}"), message
    assert isinstance(caught.value, ValueError) and caught.value.errors
    assert FAKE_TOKEN not in message and "hunter2" not in message and "abc123" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"^.*nope\.yml: no such file$"):
        load_config(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match=r": is a directory, not a config file$"):
        load_config(tmp_path)


def test_all_errors_are_kept_and_the_first_is_shown(tmp_path):
    path = write(tmp_path, "name: t\nupstream: a/b\ngithub: {per_page: 0, timeout: 0}\ntimezone: Nowhere\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    paths = [issue.path for issue in caught.value.errors]
    assert paths == ["timezone", "github.per_page", "github.timeout"]
    assert str(caught.value).startswith(f"{path}: timezone: ") and str(caught.value).endswith("(and 2 more)")


def test_empty_secret_keys_are_only_unknown_keys(tmp_path):
    # An empty `token:` holds no secret; it is still not a setting.
    with pytest.raises(ConfigError, match=r"github\.token: unknown key"):
        config_from(tmp_path, MINIMAL + "github: {token: }\n")


def test_yaml_alias_loops_do_not_hang(tmp_path):
    with pytest.raises(ConfigError):
        config_from(tmp_path, MINIMAL + "title: &a {ja: [*a]}\n")


# --- tokens ---------------------------------------------------------------------------------


def test_tokens_from_env_vars_in_order(tmp_path):
    config = config_from(tmp_path, MINIMAL + "github: {token_env: [FIRST, SECOND, UNSET]}\n")
    assert resolve_tokens(config, {"FIRST": " t1\n", "SECOND": "t2"}) == ["t1", "t2"]


def test_one_token_env_name_may_be_a_string(tmp_path):
    # The default reads as "GITHUB_TOKEN" in the docs: writing it that way must work.
    config = config_from(tmp_path, MINIMAL + "github: {token_env: MY_TOKEN}\n")
    assert config.github.token_env == ["MY_TOKEN"]
    assert resolve_tokens(config, {"MY_TOKEN": "t1"}) == ["t1"]
    with pytest.raises(ConfigError, match="github.token_env.0: 'MY-TOKEN' is not an environment variable name"):
        config_from(tmp_path, MINIMAL + "github: {token_env: MY-TOKEN}\n")
    with pytest.raises(ConfigError, match="github.token_env"):
        config_from(tmp_path, MINIMAL + f"github: {{token_env: {FAKE_TOKEN}}}\n")  # a token is not a name
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate({"name": "t", "upstream": "a/b", "github": {"token_env": "MY_TOKEN"}}, config_json_schema())


def test_no_token_at_all_is_allowed(tmp_path):
    assert resolve_tokens(config_from(tmp_path), {}) == []


def test_tokens_from_a_file(tmp_path):
    (tmp_path / "tokens").write_text("# ours\n  t1  \n\nt2\nt1\n", encoding="utf-8")
    config = config_from(tmp_path, MINIMAL + f"github: {{token_env: [], token_file: '{tmp_path / 'tokens'}'}}\n")
    assert resolve_tokens(config, {}) == ["t1", "t2"]


def test_relative_token_file_resolves_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "tok").write_text("t9\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = config_from(tmp_path, MINIMAL + "github: {token_env: [], token_file: tok}\n")
    assert resolve_tokens(config, {}) == ["t9"]


@pytest.mark.parametrize("setup, environ, expected", [
    ("github: {token_env: [EMPTY]}", {"EMPTY": "  "}, "environment variable EMPTY: is set but empty"),
    ("github: {token_env: [TWO]}", {"TWO": FAKE_TOKEN + " " + FAKE_TOKEN}, "environment variable TWO: the token contains spaces"),
    ("github: {token_env: [], token_file: missing}", {}, "token file missing: no such file"),
    ("github: {token_env: [], token_file: blank}", {}, "token file blank: holds no token"),
    ("github: {token_env: [], token_file: spaced}", {}, "token file spaced: line 2: the token contains spaces"),
], ids=["empty env var", "two tokens in one env var", "missing file", "file without token", "bad line in file"])
def test_token_errors_name_the_source_never_the_token(tmp_path, monkeypatch, setup, environ, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blank").write_text("\n# no token here\n", encoding="utf-8")
    (tmp_path / "spaced").write_text(f"{FAKE_TOKEN}\n{FAKE_TOKEN} {FAKE_TOKEN}\n", encoding="utf-8")
    config = config_from(tmp_path, MINIMAL + setup + "\n")
    with pytest.raises(ConfigError) as caught:
        resolve_tokens(config, environ)
    assert str(caught.value).startswith(expected)
    assert FAKE_TOKEN not in str(caught.value) and FAKE_TOKEN not in repr(caught.value.errors)


# --- JSON Schema and docs -------------------------------------------------------------------


def test_committed_schema_is_up_to_date():
    committed = json.loads((CONFIG_DIR / "schema.json").read_text(encoding="utf-8"))
    assert committed == config_json_schema(), "regenerate: python -m civicbot.config > config/schema.json"


def test_the_config_models_and_their_loading_are_apart_under_one_name():
    """civicbot.config: the models per section (models) apart from loading, errors, tokens and the
    schema (loading), each under 600 lines, every name still importable from civicbot.config, and
    `python -m civicbot.config` printing the committed schema byte for byte."""
    import subprocess
    import sys

    import civicbot.config as config
    from civicbot.config import loading, models

    assert config.HarvestSettings is models.HarvestSettings and config.Config is models.Config
    assert config.load_config is loading.load_config and config.ConfigError is loading.ConfigError
    for name in ("AffiliationSettings", "RESOURCES", "cron_trigger", "resolve_tokens", "config_json_schema",
                 "ConfigIssue", *config.__all__):
        assert hasattr(config, name), name
    for module in (models, loading):
        assert len(Path(module.__file__).read_text(encoding="utf-8").splitlines()) < 600, module.__name__
    printed = subprocess.run([sys.executable, "-m", "civicbot.config"], capture_output=True, check=True).stdout
    assert printed == (CONFIG_DIR / "schema.json").read_bytes()


def test_every_model_is_listed_once_in_models_all_and_exported_from_civicbot_config():
    """models.__all__ is the one list of the models' public names: a model added to models.py without
    it would be missing from civicbot.config."""
    import inspect

    from pydantic import BaseModel

    import civicbot.config as config
    from civicbot.config import models

    defined = {name for name, obj in vars(models).items()
               if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == models.__name__}
    assert defined <= set(models.__all__) and len(models.__all__) == len(set(models.__all__))
    assert all(getattr(config, name) is getattr(models, name) for name in models.__all__)
    assert set(models.__all__) <= set(config.__all__)


def field_paths(schema: dict, node: dict, prefix: str = "") -> list[str]:
    """Dotted paths of every field in the schema (list items as their model's fields)."""
    paths = []
    for name, prop in node.get("properties", {}).items():
        paths.append(prefix + name)
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if ref:
            paths += field_paths(schema, schema["$defs"][ref.rsplit("/", 1)[1]], f"{prefix}{name}.")
    return paths


def test_every_field_is_described_in_the_schema_and_the_docs():
    schema = config_json_schema()
    docs = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    paths = field_paths(schema, schema)
    assert len(paths) > 30
    for path in paths:
        assert f"`{path}`" in docs, f"docs/config.md does not document {path}"
    for node in [schema, *schema["$defs"].values()]:
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), name


def test_the_example_configs_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for name in ["tokyo-covid19.yml", "demo.yml"]:
        data = yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))
        jsonschema.validate(data, config_json_schema())
