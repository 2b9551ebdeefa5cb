"""Find secrets left in an image: in files of any layer, in the config's Env, in the history.

A file deleted by a later layer is still in the image (anyone who pulls it can read the layer),
and a build argument or ENV value stays readable through ``docker history`` and
``docker inspect``: that is what this module makes visible. Findings never carry the secret:
only a path or variable name, the kind, and a masked description.

Scanning file contents costs time on a multi-gigabyte stream, so :class:`ContentScanner` looks
only at files a secret could plausibly live in: well-known names anywhere (``id_rsa``, ``.env``,
``.aws/credentials``, ``*.pem``…) and small text files outside the system and package trees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from helpers.anatomy.model import SecretHit

# --- what counts as a secret name or value ---------------------------------------------------

SENSITIVE_NAME = re.compile(
    r"PASSW(?:OR)?D|PASSPHRASE|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?TOKEN"
    r"|(?:^|_)(?:TOKEN|PASS|PAT)(?:_|$)",
    re.IGNORECASE,
)
# Names that point at a secret instead of holding it (MYSQL_PASSWORD_FILE=/run/secrets/db).
POINTER_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_FILENAME", "_LOCATION", "_ENV")
# Switch values such as MYSQL_ALLOW_EMPTY_PASSWORD=yes are settings, not secrets.
SWITCH_VALUES = frozenset({"", "yes", "no", "true", "false", "0", "1", "on", "off", "none",
                           "null", "empty", "random"})

ASSIGNMENT = re.compile(
    r"""(?<![\w$.\-/])([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s;&|'"]*)""")
SECRET_FLAG = re.compile(
    r"(?<![\w-])--(password|passwd|token|api-key|apikey|secret|auth-token)(?:=|\s+)([^\s-][^\s]*)",
    re.IGNORECASE,
)
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@", re.IGNORECASE)

TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b")),
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}")),
    ("Slack token", re.compile(r"\bxox[baprs]-[A-Za-z0-9\-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("Stripe live key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{24,}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
)
TOKEN_PREFILTER = re.compile(
    rb"gh[pousr]_|github_pat_|AKIA|ASIA|glpat-|xox[baprs]-|AIza|k_live_|npm_")
PRIVATE_KEY = re.compile(
    rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-")


def is_sensitive_name(name: str) -> bool:
    """True for variable names that usually hold a secret (DB_PASSWORD, GITHUB_TOKEN…)."""
    return bool(SENSITIVE_NAME.search(name)) and not name.upper().endswith(POINTER_SUFFIXES)


def is_secret_value(value: str) -> bool:
    """False for empty values, switches (yes/true/1) and references to other variables."""
    value = value.strip().strip("\"'")
    return value.lower() not in SWITCH_VALUES and not value.startswith("$")


def mask(value: str) -> str:
    """A stand-in for a secret that shows it exists, never any of its characters."""
    value = value.strip().strip("\"'")
    return f"**** ({len(value)} characters)"


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``****`` (for tables and JSON)."""
    text = _mask_sensitive_assignments(text)
    text = SECRET_FLAG.sub(lambda m: f"--{m.group(1)}=****" if is_secret_value(m.group(2))
                           else m.group(0), text)
    text = URL_CREDENTIALS.sub(lambda m: m.group(0).replace(m.group(1), "****"), text)
    for _label, pattern in TOKEN_PATTERNS:
        text = pattern.sub("****", text)
    return text


def _mask_sensitive_assignments(text: str) -> str:
    def assignment(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if is_sensitive_name(name) and is_secret_value(value):
            return f"{name}=****"
        return match.group(0)

    return ASSIGNMENT.sub(assignment, text)


# --- files ------------------------------------------------------------------------------------

SSH_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk",
                           "id_ed25519_sk", "identity"})
KEY_SUFFIXES = (".pem", ".key", ".ppk", ".p8")
ENV_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".defaults")
CREDENTIAL_NAMES = frozenset({".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials",
                              ".pgpass", ".dockercfg", ".s3cfg", ".htpasswd"})
CREDENTIAL_SUFFIXES = (".aws/credentials", ".docker/config.json", ".config/gh/hosts.yml")
NAMED_FILES = SSH_KEY_NAMES | CREDENTIAL_NAMES
TEXT_SUFFIXES = frozenset({"", ".env", ".json", ".yml", ".yaml", ".toml", ".ini", ".cfg",
                           ".conf", ".config", ".properties", ".xml", ".sh", ".bash", ".py",
                           ".js", ".ts", ".rb", ".php", ".txt", ".tfvars", ".key", ".pem"})
# Trees full of vendored code and test fixtures: name patterns there are noise, not findings.
PACKAGE_TREE = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|\.git|__pycache__|vendor|gems)/"
    r"|^usr/share/")
SYSTEM_PREFIXES = ("usr/lib/", "usr/lib32/", "usr/lib64/", "usr/libexec/", "usr/share/",
                   "usr/include/", "usr/bin/", "usr/sbin/", "usr/local/lib/",
                   "usr/local/include/", "usr/local/share/", "lib/", "lib32/", "lib64/", "bin/",
                   "sbin/", "var/lib/", "var/cache/", "var/log/", "proc/", "sys/", "dev/",
                   "etc/ssl/certs/", "opt/conda/pkgs/")
MAX_NAMED_FILE = 1 << 20  # a credentials file larger than this is not one
MAX_GENERIC_FILE = 64 << 10  # generic text files worth reading for embedded tokens
BINARY_PROBE = 8 << 10  # a NUL byte in the first 8 kB marks a binary file (as git decides)


def _suffix(base: str) -> str:
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def _is_env_file(base: str) -> bool:
    if not (base.startswith(".env") or base.endswith(".env")):
        return False  # the common case, decided with two cheap checks
    if base.endswith(ENV_TEMPLATE_SUFFIXES):
        return False
    return base == ".env" or base.startswith(".env.") or base.endswith(".env")


class ContentScanner:
    """Decides which files to read while a layer streams past, and what secrets they hold.

    ``wants`` runs for every regular file of the image, so it only does string checks; ``scan``
    runs on the (small) content of the files ``wants`` accepted.
    """

    def wants(self, path: str, size: int) -> bool:
        if size > MAX_NAMED_FILE:
            return False
        base = path.rpartition("/")[2]
        if base in NAMED_FILES or _is_env_file(base) or path.endswith(CREDENTIAL_SUFFIXES):
            return True
        if base.endswith(KEY_SUFFIXES):
            return not PACKAGE_TREE.search(path)
        return (size <= MAX_GENERIC_FILE and not path.startswith(SYSTEM_PREFIXES)
                and _suffix(base) in TEXT_SUFFIXES and not PACKAGE_TREE.search(path))

    def scan(self, path: str, data: bytes) -> list[SecretHit]:
        hits: dict[str, SecretHit] = {}  # one finding per kind per file is enough to act on
        base = path.rpartition("/")[2]
        if data.find(b"\0", 0, BINARY_PROBE) >= 0 and not _is_named(path, base):
            return []  # a binary file reached only by the generic rule: no text secrets in it
        if (_may_hold_key(data) and PRIVATE_KEY.search(data)) \
                or (base in SSH_KEY_NAMES and data.strip()):
            hits["private-key"] = SecretHit(path, "private-key", "private key material")
        if _is_env_file(base):
            names = _sensitive_assignments(data.decode("utf-8", "replace"))
            detail = (f"environment file setting {', '.join(names)}" if names
                      else "environment file (check it for credentials)")
            hits["env-file"] = SecretHit(path, "env-file", detail)
        credential = _credential_file_detail(path, base, data)
        if credential:
            hits["credentials-file"] = SecretHit(path, "credentials-file", credential)
        if TOKEN_PREFILTER.search(data):
            labels = _token_labels(data.decode("utf-8", "replace"))
            if labels:
                hits["token"] = SecretHit(path, "token", ", ".join(labels))
        return list(hits.values())


def _is_named(path: str, base: str) -> bool:
    """Chosen for its name (a key, an env or credentials file), not as a generic text file."""
    return (base in NAMED_FILES or _is_env_file(base) or path.endswith(CREDENTIAL_SUFFIXES)
            or base.endswith(KEY_SUFFIXES))


def _may_hold_key(data: bytes) -> bool:
    """A substring test (fast) before the regular expression (slow on every byte)."""
    return b"PRIVATE KEY" in data or b"PuTTY-User-Key-File-" in data


def _sensitive_assignments(text: str) -> list[str]:
    names = []
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if sep and is_sensitive_name(name) and is_secret_value(value) and name not in names:
            names.append(name)
    return names


def _token_labels(text: str) -> list[str]:
    return [label for label, pattern in TOKEN_PATTERNS if pattern.search(text)]


def _credential_file_detail(path: str, base: str, data: bytes) -> str:
    """Why a well-known credentials file really holds credentials ('' when it does not)."""
    if base not in CREDENTIAL_NAMES and not path.endswith(CREDENTIAL_SUFFIXES):
        return ""
    text = data.decode("utf-8", "replace")
    if path.endswith(".aws/credentials"):
        return "AWS credentials" if re.search(r"aws_(secret_access_key|access_key_id)\s*=\s*\S",
                                              text) else ""
    if path.endswith((".docker/config.json", ".dockercfg")):
        return "registry credentials" if _docker_config_has_auth(text) else ""
    if path.endswith(".config/gh/hosts.yml"):
        return "GitHub CLI token" if "oauth_token" in text else ""
    checks: dict[str, tuple[str, str]] = {
        ".netrc": (r"(?m)\bpassword\s+\S", "machine password (.netrc)"),
        "_netrc": (r"(?m)\bpassword\s+\S", "machine password (.netrc)"),
        ".npmrc": (r"(?m)(_authToken|_auth|_password)\s*=\s*[^\s$]", "npm registry token"),
        ".pypirc": (r"(?m)^\s*password\s*[:=]\s*\S", "PyPI password"),
        ".git-credentials": (r"://[^:/\s]+:[^@\s]+@", "git credentials"),
        ".pgpass": (r"(?m)^[^#\s][^:\n]*:[^:\n]*:[^:\n]*:[^:\n]*:\S", "PostgreSQL passwords"),
        ".s3cfg": (r"(?m)^\s*secret_key\s*=\s*\S", "S3 secret key"),
        ".htpasswd": (r"(?m)^[^:\s]+:\S", "HTTP password hashes"),
    }
    pattern, label = checks.get(base, ("", ""))
    return label if pattern and re.search(pattern, text) else ""


def _docker_config_has_auth(text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        auths = doc if isinstance(doc, dict) else {}  # legacy .dockercfg: registries at the top
    return any(isinstance(entry, dict) and (entry.get("auth") or entry.get("identitytoken"))
               for entry in auths.values())


# --- config Env and history -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MetadataHit:
    """A secret in the image metadata: a config Env entry or a history line."""

    key: str
    kind: str  # secret-variable, build-arg, secret-flag, url-credentials, token
    source: str  # "env" (config Env) or "history"
    detail: str
    step: int | None = None  # index into config["history"]


def scan_env(env: Iterable[str]) -> list[MetadataHit]:
    """Sensitive variables in the config's Env: every container gets them, inspect shows them."""
    hits = []
    for item in env:
        name, _, value = item.partition("=")
        hits.extend(_value_hits(name, value, source="env", step=None))
    return hits


def _value_hits(name: str, value: str, *, source: str, step: int | None,
                kind: str = "secret-variable") -> list[MetadataHit]:
    if is_sensitive_name(name) and is_secret_value(value):
        return [MetadataHit(name, kind, source, f"{name}={mask(value)}", step)]
    hits = []
    if any(is_secret_value(m.group(1)) for m in URL_CREDENTIALS.finditer(value)):
        hits.append(MetadataHit(name, "url-credentials", source,
                                f"{name} holds a URL with a password", step))
    labels = _token_labels(value)
    if labels:
        hits.append(MetadataHit(name, "token", source, f"{name} holds a {labels[0]}", step))
    return hits


def instruction_of(created_by: str) -> str:
    """The Dockerfile instruction of a history line (ENV, ARG, RUN, COPY…)."""
    text = created_by.strip()
    if text.startswith("/bin/sh -c #(nop)"):
        text = text.removeprefix("/bin/sh -c #(nop)").strip()
    elif text.startswith(("/bin/sh -c", "|")):
        return "RUN"
    word = text.split(None, 1)[0] if text else ""
    return word.upper() if word.isalpha() else "RUN"


def scan_history(history: Iterable[dict], *, skip_env_keys: Callable[[str], bool]
                 ) -> list[MetadataHit]:
    """Secrets in ``history[].created_by``: ENV/ARG values, build args and flags of RUN lines.

    ``skip_env_keys`` says which ENV assignments are already reported from the config's Env,
    so one secret is not listed twice.
    """
    hits: list[MetadataHit] = []
    for step, entry in enumerate(history):
        text = str(entry.get("created_by") or "")
        if text:
            hits.extend(_history_line_hits(text, step, skip_env_keys))
    return hits


def _history_line_hits(text: str, step: int, skip_env_keys: Callable[[str], bool]
                       ) -> list[MetadataHit]:
    instruction = instruction_of(text)
    hits: list[MetadataHit] = []
    for match in ASSIGNMENT.finditer(text):
        name, value = match.group(1), match.group(2)
        if not (is_sensitive_name(name) and is_secret_value(value)):
            continue
        if instruction == "ENV" and skip_env_keys(name):
            continue
        kind = "build-arg" if instruction == "ARG" or _is_build_arg(text, match) \
            else "secret-variable"
        hits.append(MetadataHit(name, kind, "history", f"{name}={mask(value)}", step))
    for match in SECRET_FLAG.finditer(text):
        if is_secret_value(match.group(2)):
            hits.append(MetadataHit(f"--{match.group(1)}", "secret-flag", "history",
                                    f"--{match.group(1)} {mask(match.group(2))}", step))
    unreported = _mask_sensitive_assignments(text)  # secrets not already listed above
    if any(is_secret_value(m.group(1)) for m in URL_CREDENTIALS.finditer(unreported)):
        hits.append(MetadataHit(instruction, "url-credentials", "history",
                                "a URL with a password", step))
    labels = _token_labels(unreported)
    if labels:
        hits.append(MetadataHit(instruction, "token", "history", f"a {labels[0]}", step))
    return hits


def _is_build_arg(text: str, match: re.Match[str]) -> bool:
    """RUN lines start with ``|N NAME=value …`` when build arguments were in scope."""
    head = text.split("/bin/sh -c", 1)[0] if text.lstrip().startswith(("|", "RUN |")) else ""
    return match.start() < len(head)
