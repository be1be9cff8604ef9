"""Checks of the deployment files: image, lock file, compose files, runbook.

These tests need no servers. ``docker compose config`` runs only where a
Docker client with the compose plugin is installed, and needs no engine.
"""

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = [DEPLOY / "compose.yaml", DEPLOY / "compose.tls.yaml"]
ENV_EXAMPLE = DEPLOY / ".env.example"
LOCK_FILE = ROOT / "requirements.lock"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def _normalized(name: str) -> str:
    """Return a distribution name normalized as in PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_requirements() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[_normalized(match.group(1))] = match.group(2)
    return pins


# Lock file -----------------------------------------------------------------


def test_lock_pins_every_runtime_dependency() -> None:
    pins = _lock_pins()
    for requirement in _runtime_requirements():
        match = _REQUIREMENT_NAME.match(requirement)
        assert match, f"cannot read the name of {requirement!r}"
        name = _normalized(match.group(1))
        assert name in pins, f"{name} of pyproject.toml is not pinned in the lock"


def test_lock_pins_satisfy_pyproject() -> None:
    requirements = pytest.importorskip("packaging.requirements")
    pins = _lock_pins()
    for text in _runtime_requirements():
        requirement = requirements.Requirement(text)
        version = pins[_normalized(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"lock pins {requirement.name}=={version}, outside {text!r}"
        )


def test_lock_lines_are_pins_with_hashes() -> None:
    lines = LOCK_FILE.read_text(encoding="utf-8").splitlines()
    requirement_lines = [
        line for line in lines if line and not line.startswith((" ", "#"))
    ]
    assert requirement_lines, "requirements.lock lists no requirement"
    for line in requirement_lines:
        assert _PIN.match(line), f"not an == pin: {line!r}"
        assert line.endswith("\\"), f"pin without a --hash line: {line!r}"


def test_lock_matches_installed_versions() -> None:
    for name, version in _lock_pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is in the lock but not installed in this venv")
        assert installed == version, (
            f"{name}: lock pins {version}, the venv has {installed};"
            " make the lock again as its header says"
        )


# Dockerfile and entrypoint -------------------------------------------------


def test_dockerfile_installs_from_lock() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "COPY requirements.lock" in text
    assert "--require-hashes -r /tmp/requirements.lock" in text
    assert "pip install --no-deps ." in text


def test_dockerfile_final_stage() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert stages[-1] == "${PYTHON_IMAGE}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    final = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", final, flags=re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "ENTRYPOINT" in final


def test_dockerfile_copies_chart_js() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "COPY monitor/web/package.json monitor/web/package-lock.json" in text
    assert "npm ci" in text
    # monitor.dashboard.chart_bundle looks for the bundle next to the package.
    assert "site-packages/monitor/web/node_modules/chart.js" in text


def test_dockerfile_copies_every_package() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    with (ROOT / "pyproject.toml").open("rb") as file:
        includes = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]
    for pattern in includes["include"]:
        package = pattern.rstrip("*")
        assert f"COPY {package} {package}" in text, f"{package} is not copied"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_entrypoint_reads_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "erp-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "RETAIL_HUB_ERP_PASSWORD_FILE": str(secret),
    }
    script = (
        'printf "%s|%s" "$RETAIL_HUB_ERP_PASSWORD"'
        ' "${RETAIL_HUB_ERP_PASSWORD_FILE-unset}"'
    )
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "s3cret|unset"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_entrypoint_rejects_missing_file(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "RETAIL_HUB_ERP_PASSWORD_FILE": str(tmp_path / "missing"),
    }
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "RETAIL_HUB_ERP_PASSWORD_FILE" in result.stderr
    assert "missing" in result.stderr


# Compose -------------------------------------------------------------------


def _top_level_keys(text: str) -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*):", text, flags=re.MULTILINE))


def _service_names(text: str) -> set[str]:
    """Return the service names of a compose file, without a YAML parser."""
    block = re.search(r"^services:\n(.*?)(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert block, "no services: block"
    return set(re.findall(r"^  ([a-z][\w-]*):", block.group(1), flags=re.MULTILINE))


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "\t" not in text, "YAML forbids tabs in indentation"
    assert "services" in _top_level_keys(text)
    try:
        import yaml
    except ImportError:
        return

    class ComposeLoader(yaml.SafeLoader):
        """A safe loader that also reads compose's !reset and !override."""

    def read_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        return loader.construct_scalar(node)

    ComposeLoader.add_multi_constructor("!", read_tagged)
    document = yaml.load(text, Loader=ComposeLoader)
    assert isinstance(document["services"], dict)


def test_compose_has_every_service() -> None:
    services = _service_names((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    expected = {
        "rabbitmq",
        "mongo",
        "mongo-init",
        "api",
        "connector",
        "publisher",
        "monitor",
        "prometheus",
        "alertmanager",
        "erp-simulator",
        "store-agent",
    }
    assert expected <= services, f"missing services: {sorted(expected - services)}"


def test_compose_commands_exist() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for command in (
        '["retail-hub", "serve"]',
        '["retail-hub", "connector", "schedule"]',
        '["retail-hub", "publisher", "run"]',
        '["retail-hub", "monitor", "run"]',
        '["retail-hub-agent", "run"',
        "- retail-hub-erp-simulator",
    ):
        assert command in text, f"{command} is not a service command"


def test_compose_mounts_shipped_alert_rules() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml" in text
    prometheus = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/alerts.yml" in prometheus
    assert "RETAIL_HUB_ALERT_WEBHOOK_URL: http://alertmanager:9093" in text


def test_compose_has_no_secret_values() -> None:
    for path in COMPOSE_FILES:
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if re.search(r"(PASSWORD|PASS|TOKEN)\s*:", line):
                assert "${" in line, f"{path.name}: secret without a variable: {line}"


def test_env_example_names_every_variable() -> None:
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    for path in COMPOSE_FILES:
        used = set(_COMPOSE_VARIABLE.findall(path.read_text(encoding="utf-8")))
        missing = used - names
        assert not missing, f"{path.name} uses {sorted(missing)}, not in .env.example"


def _compose_plugin_works() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(
        ["docker", "compose", "version"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


@pytest.mark.skipif(
    not _compose_plugin_works(), reason="no Docker client with the compose plugin"
)
@pytest.mark.parametrize(
    "files",
    [["compose.yaml"], ["compose.yaml", "compose.tls.yaml"]],
    ids=["plain", "tls"],
)
def test_docker_compose_config(files: list[str]) -> None:
    command = ["docker", "compose", "--env-file", str(ENV_EXAMPLE)]
    for name in files:
        command += ["-f", str(DEPLOY / name)]
    command += ["--profile", "demo", "--profile", "store", "config", "--quiet"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# Runbook -------------------------------------------------------------------

RUNBOOKS = [ROOT / "docs" / "operations.md", ROOT / "docs" / "scaling.md"]
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ENV_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=")
# The alias that operations.md defines for `docker compose exec api`.
_ALIASES = {"hub"}


def _runbook_commands(path: Path) -> list[list[str]]:
    """Return the words of every retail-hub command in the file's sh blocks.

    Leading environment assignments (NAME=value) are kept as words, and a
    leading alias from _ALIASES is dropped.
    """
    commands = []
    for block in _SH_BLOCK.findall(path.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] in _ALIASES:
                words = words[1:]
            program = next((w for w in words if not _ENV_ASSIGNMENT.match(w)), "")
            if program.startswith("retail-hub"):
                commands.append(words)
    return commands


def _parse(program: str, arguments: list[str]) -> None:
    from erp_simulator.cli import parse_args as parse_simulator_args
    from hub.cli import build_parser
    from store_agent.cli import _build_parser as build_agent_parser

    if program == "retail-hub":
        build_parser().parse_args(arguments)
    elif program == "retail-hub-agent":
        build_agent_parser().parse_args(arguments)
    elif program == "retail-hub-erp-simulator":
        parse_simulator_args(arguments)
    else:
        pytest.fail(f"unknown program {program!r}")


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda path: path.name)
def test_runbook_commands_parse(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.settings import Settings
    from monitor.settings import MonitorSettings

    settings = {
        f"RETAIL_HUB_{name.upper()}"
        for name in (*Settings.model_fields, *MonitorSettings.model_fields)
    }
    commands = _runbook_commands(path)
    assert commands, f"no retail-hub command in the sh blocks of {path.name}"
    for words in commands:
        line = shlex.join(words)
        while (assignment := _ENV_ASSIGNMENT.match(words[0])) is not None:
            name = assignment.group(1)
            assert name in settings, f"{path.name}: unknown setting {name} in {line}"
            words = words[1:]
        try:
            _parse(words[0], words[1:])
        except SystemExit as exit_:
            error = capsys.readouterr().err.strip().splitlines()[-1:]
            pytest.fail(f"{path.name}: {line!r} does not parse (exit {exit_}): {error}")


def test_runbook_covers_every_case() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for heading in (
        "## A store is SILENT",
        "## A store lags",
        "## A queue overflowed",
        "## The broker is down",
        "## The repository is down",
        "## A connector run failed",
        "## The mass-deletion guard stopped a run",
        "## Rotating a store's credentials",
        "## Adding and removing a store",
        "## Backup and restore",
    ):
        assert heading in text, f"operations.md has no section {heading!r}"


def test_runbook_parser_rejects_unknown_command() -> None:
    with pytest.raises(SystemExit):
        _parse("retail-hub", ["store", "frobnicate", "0042"])


# Kubernetes ----------------------------------------------------------------

KUBERNETES = DEPLOY / "kubernetes"


def test_kustomization_lists_existing_files() -> None:
    text = (KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8")
    block = re.search(r"^resources:\n((?:  - .*\n)+)", text, flags=re.MULTILINE)
    assert block, "kustomization.yaml has no resources list"
    resources = re.findall(r"  - (\S+)", block.group(1))
    for name in resources:
        assert (KUBERNETES / name).is_file(), f"{name} is listed but missing"
    manifests = {path.name for path in KUBERNETES.glob("*.yaml")}
    unlisted = manifests - set(resources) - {"kustomization.yaml"}
    assert not unlisted, f"manifests not in kustomization.yaml: {sorted(unlisted)}"


def test_kubernetes_commands_parse(capsys: pytest.CaptureFixture[str]) -> None:
    commands = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for match in re.finditer(r"^\s+args: \[(.*)\]$", path.read_text(), re.M):
            commands.append([word.strip(' "') for word in match.group(1).split(",")])
    assert len(commands) == 4, f"expected 4 hub Deployments, found {commands}"
    for words in commands:
        try:
            _parse(words[0], words[1:])
        except SystemExit:
            pytest.fail(f"{words} does not parse: {capsys.readouterr().err}")


def test_kubernetes_secrets_by_reference() -> None:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert "kind: Secret\n" not in text, f"{path.name} defines a Secret"
        for name in ("RETAIL_HUB_ERP_PASSWORD", "RETAIL_HUB_OPERATOR_TOKEN"):
            for match in re.finditer(rf"- name: {name}\n(.*)\n", text):
                assert "valueFrom" in match.group(1), f"{path.name}: {name}"
