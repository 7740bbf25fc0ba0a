"""deploy/kubernetes renders with `kubectl kustomize`, and every object it holds loads into the
official Kubernetes client's models strictly: a field the API does not know, a value of the
wrong type or a missing required field fails, where the client itself would quietly drop it."""

import shutil
import subprocess
from pathlib import Path
from typing import Any, TypeGuard

import kubernetes.client
import pydantic
import pytest
import yaml
from pydantic import BaseModel

from bay.config import Settings
from tests.bay_process import REPO

KUSTOMIZATION = REPO / "deploy" / "kubernetes"


class ManifestError(ValueError):
    pass


def render(directory: Path) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (apt-get install kubernetes-client)")
    done = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def load(manifest: dict[str, Any]) -> Any:
    """The manifest as an instance of its client model (`apps/v1` `Deployment`: V1Deployment),
    validated as pydantic validates the client's models: unknown fields are forbidden and types
    strict. (The client's own `from_dict` drops unknown fields without a word.)"""
    version = str(manifest.get("apiVersion", "")).rpartition("/")[2]
    model = getattr(kubernetes.client, f"{version.capitalize()}{manifest.get('kind')}", None)
    if model is None:
        raise ManifestError(f"no model for {manifest.get('apiVersion')} {manifest.get('kind')}")
    try:
        return model.model_validate(manifest)
    except pydantic.ValidationError as exc:
        raise ManifestError(f"{manifest.get('kind')}: {exc}") from exc


def unknown_settings(data: dict[str, Any], model: type[BaseModel], where: str = "") -> list[str]:
    """Keys of a Bay YAML file that no setting has (Settings ignores them, quietly)."""
    found = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            found.append(f"{where}{key}")
        elif isinstance(value, dict) and _is_section(field.annotation):
            found += unknown_settings(value, field.annotation, f"{where}{key}.")
    return found


def _is_section(annotation: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@pytest.fixture(scope="module")
def objects() -> dict[str, Any]:
    return {manifest["kind"]: load(manifest) for manifest in render(KUSTOMIZATION)}


def test_every_object_loads_strictly(objects: dict[str, Any]) -> None:
    kinds = {"Namespace", "Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    assert set(objects) == kinds


def test_bay_runs_replicated_behind_the_service(objects: dict[str, Any]) -> None:
    deployment, service = objects["Deployment"], objects["Service"]
    assert deployment.spec.replicas >= 2
    labels = deployment.spec.template.metadata.labels
    assert service.spec.selector.items() <= labels.items()
    bay = deployment.spec.template.spec.containers[0]
    assert service.spec.ports[0].target_port in {p.name for p in bay.ports}
    assert bay.readiness_probe.http_get.path == "/ready"
    secret = {ref.secret_ref.name for ref in bay.env_from}
    assert secret == {objects["Secret"].metadata.name}
    assert set(objects["Secret"].string_data) == {"BAY_API_KEY", "BAY_DATABASE__URL"}


def test_the_config_is_bays_and_its_host_paths_are_mounted_at_the_same_path(
    objects: dict[str, Any],
) -> None:
    config_map = objects["ConfigMap"]
    config = yaml.safe_load(config_map.data["bay.yaml"])
    assert unknown_settings(config, Settings) == []
    settings = Settings.model_validate(config)
    assert settings.driver.type == "docker"
    pod = objects["Deployment"].spec.template.spec
    assert {v.config_map.name for v in pod.volumes if v.config_map} == {config_map.metadata.name}
    host_paths = {v.name: v.host_path.path for v in pod.volumes if v.host_path}
    for container in [*pod.init_containers, *pod.containers]:
        mounts = {m.name: m.mount_path for m in container.volume_mounts}
        # dockerd resolves the paths Bay gives it on the node: they must be the node's own.
        for name in ("run-dir", "data-dir", "docker-socket"):
            assert mounts[name] == host_paths[name], (container.name, name)
        assert host_paths["run-dir"] == str(settings.driver.docker.run_dir)
        assert host_paths["data-dir"] == str(settings.data_dir)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("  replicas: 2", "  replica: 2", r"spec\.replica\n +Extra inputs are not permitted"),
        (
            "containerPort: 8114",
            'containerPort: "8114"',
            r"containerPort\n +Input should be a valid integer",
        ),
        ("readinessProbe:", "readynessProbe:", r"readynessProbe\n +Extra inputs"),
        (
            "          periodSeconds: 5",
            "          periodSeconds: [5]",
            r"periodSeconds\n +Input should be",
        ),
        ("- name: bay\n", "- tty: true\n", r"containers\.0\.name\n +Field required"),
    ],
)
def test_a_typo_in_a_manifest_fails(tmp_path: Path, old: str, new: str, error: str) -> None:
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUSTOMIZATION, copy)
    deployment = copy / "deployment.yaml"
    text = deployment.read_text()
    assert old in text
    deployment.write_text(text.replace(old, new, 1))
    manifests = render(copy)
    with pytest.raises(ManifestError, match=error):
        [load(manifest) for manifest in manifests]


def test_an_unknown_setting_in_bays_config_is_found() -> None:
    config = {"server": {"host": "0.0.0.0", "prot": 1}, "drivers": {}}
    assert unknown_settings(config, Settings) == ["server.prot", "drivers"]
