"""Package kinds, as each tool spells them, mapped onto the findings table's ``type`` column.

The table says ``os`` for distribution packages and the language ecosystem otherwise. Trivy
writes ``python-pkg``/``pip``/``poetry``, Grype ``python``, a package URL ``pypi``: this module is
the one place that knows they are all ``python``, and how to write a package URL back.
"""

from __future__ import annotations

import re

from packageurl import PackageURL

#: Package-URL types of distribution packages (always ``os`` in the table).
OS_PURL_TYPES = frozenset({"deb", "apk", "rpm", "alpm", "ebuild", "qpkg", "opkg"})

#: Language ecosystem of each package-URL type.
_PURL_TYPE_TO_LANG = {
    "pypi": "python", "npm": "javascript", "golang": "go", "maven": "java", "gem": "ruby",
    "cargo": "rust", "composer": "php", "nuget": "dotnet", "swift": "swift",
    "cocoapods": "swift", "pub": "dart", "hex": "elixir", "conan": "c++", "conda": "python",
}

#: The reverse: which package-URL type to write for a language ecosystem.
_LANG_TO_PURL_TYPE = {
    "python": "pypi", "javascript": "npm", "go": "golang", "java": "maven", "ruby": "gem",
    "rust": "cargo", "php": "composer", "dotnet": "nuget", "swift": "swift", "dart": "pub",
    "elixir": "hex", "c++": "conan",
}

#: Trivy's ``Type`` of a language result (lockfile or installed-package analyzer).
_TRIVY_TYPE_TO_LANG = {
    "pip": "python", "pipenv": "python", "poetry": "python", "uv": "python",
    "python-pkg": "python", "conda-pkg": "python", "conda-environment": "python",
    "npm": "javascript", "yarn": "javascript", "pnpm": "javascript", "bun": "javascript",
    "node-pkg": "javascript", "javascript": "javascript",
    "gomod": "go", "gobinary": "go",
    "jar": "java", "pom": "java", "gradle": "java", "sbt": "java",
    "bundler": "ruby", "gemspec": "ruby",
    "cargo": "rust", "rust-binary": "rust",
    "composer": "php", "composer-vendor": "php",
    "nuget": "dotnet", "dotnet-core": "dotnet", "packages-props": "dotnet",
    "swift": "swift", "cocoapods": "swift", "pub": "dart", "hex": "elixir", "conan": "c++",
}

#: What Trivy writes as ``Type`` for an installed language package inside an image.
_LANG_TO_TRIVY_TYPE = {
    "python": "python-pkg", "javascript": "node-pkg", "go": "gobinary", "java": "jar",
    "ruby": "gemspec", "rust": "rust-binary", "php": "composer", "dotnet": "dotnet-core",
}

#: Grype's ``artifact.type``.
_GRYPE_TYPE_TO_LANG = {
    "python": "python", "conda": "python", "npm": "javascript", "go-module": "go",
    "java-archive": "java", "jenkins-plugin": "java", "gem": "ruby", "rust-crate": "rust",
    "php-composer": "php", "php-pecl": "php", "dotnet": "dotnet", "swift": "swift",
    "pod": "swift", "dart-pub": "dart", "hex": "elixir", "erlang-otp": "elixir",
    "conan": "c++", "binary": "binary",
}
_GRYPE_OS_TYPES = frozenset({"deb", "apk", "rpm", "alpm", "portage", "linux-kernel"})
_LANG_TO_GRYPE_TYPE = {
    "python": "python", "javascript": "npm", "go": "go-module", "java": "java-archive",
    "ruby": "gem", "rust": "rust-crate", "php": "php-composer", "dotnet": "dotnet",
}

#: Hints in a file path or target that tell a language result's ecosystem (SARIF gives no type).
_PATH_HINTS = (
    (re.compile(r"requirements[^/]*\.txt|pipfile|poetry\.lock|uv\.lock|\.dist-info|"
                r"\.egg-info|site-packages|dist-packages|python", re.I), "python"),
    (re.compile(r"package(-lock)?\.json|yarn\.lock|pnpm-lock|node_modules", re.I), "javascript"),
    (re.compile(r"go\.(mod|sum)$", re.I), "go"),
    (re.compile(r"\.jar$|pom\.xml|gradle", re.I), "java"),
    (re.compile(r"gemfile|\.gemspec", re.I), "ruby"),
    (re.compile(r"cargo\.(lock|toml)", re.I), "rust"),
    (re.compile(r"composer\.(lock|json)", re.I), "php"),
    (re.compile(r"\.deps\.json|packages\.lock\.json|\.csproj", re.I), "dotnet"),
)


def type_from_purl_type(purl_type: str) -> str:
    """``os`` for distribution packages, else the language ecosystem (``pypi`` -> ``python``)."""
    purl_type = (purl_type or "").lower()
    if purl_type in OS_PURL_TYPES:
        return "os"
    return _PURL_TYPE_TO_LANG.get(purl_type, purl_type or "unknown")


def type_from_trivy(result_class: str, result_type: str) -> str:
    """Trivy's ``Class`` decides os or language; its ``Type`` names the language."""
    if result_class == "os-pkgs":
        return "os"
    return _TRIVY_TYPE_TO_LANG.get((result_type or "").lower(), result_type or "lang")


def trivy_type_for(kind: str) -> str:
    return _LANG_TO_TRIVY_TYPE.get(kind, kind)


def type_from_grype(artifact_type: str, language: str = "") -> str:
    artifact_type = (artifact_type or "").lower()
    if artifact_type in _GRYPE_OS_TYPES:
        return "os"
    if artifact_type in _GRYPE_TYPE_TO_LANG:
        return _GRYPE_TYPE_TO_LANG[artifact_type]
    return (language or artifact_type or "unknown").lower()


def grype_type_for(kind: str, os_type: str = "deb") -> str:
    return os_type if kind == "os" else _LANG_TO_GRYPE_TYPE.get(kind, kind)


def type_from_path_hint(text: str, *, default: str = "lang") -> str:
    """Guess a language ecosystem from a path such as ``app/requirements.txt``."""
    for pattern, kind in _PATH_HINTS:
        if pattern.search(text or ""):
            return kind
    return default


def pypi_purl_name(name: str) -> str:
    """The package-URL spelling of a PyPI name: lower case, ``_`` as ``-``."""
    return name.lower().replace("_", "-")


_RPM_FAMILIES = frozenset({"redhat", "rhel", "centos", "rocky", "alma", "almalinux", "amazon",
                           "oracle", "ol", "fedora", "suse", "opensuse", "sles", "photon",
                           "cbl-mariner", "azurelinux"})
_APK_FAMILIES = frozenset({"alpine", "wolfi", "chainguard"})


def os_purl_type(family: str) -> str:
    """``deb`` for Debian and Ubuntu, ``apk`` for Alpine, ``rpm`` for the Red Hat family."""
    family = (family or "").lower()
    if family in _APK_FAMILIES:
        return "apk"
    if family in _RPM_FAMILIES:
        return "rpm"
    return "deb"


def purl_for(kind: str, name: str, version: str, *, os_type: str = "",
             os_namespace: str = "debian", qualifiers: dict[str, str] | None = None) -> str:
    """A package URL for a table row: ``pkg:pypi/flask@2.0.1``, ``pkg:deb/debian/libc6@2.36``."""
    if kind == "os":
        os_type = os_type or os_purl_type(os_namespace)
        return PackageURL(type=os_type, namespace=os_namespace or None, name=name,
                          version=version or None, qualifiers=qualifiers or None).to_string()
    purl_type = _LANG_TO_PURL_TYPE.get(kind, kind)
    if purl_type == "pypi":
        name = pypi_purl_name(name)
    return PackageURL(type=purl_type, name=name, version=version or None,
                      qualifiers=qualifiers or None).to_string()


def parse_purl(text: str) -> PackageURL | None:
    """The parsed package URL, or None when the text is not one (reports may carry junk)."""
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None
