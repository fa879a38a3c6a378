"""The deployment files: `kubectl apply -f deploy/k8s/` applies no example secret and pulls no
`latest` image; the image's build context leaves the local environments out; its healthcheck
follows the configured port."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _k8s_documents() -> list[dict[str, object]]:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.y*ml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_applying_the_k8s_folder_applies_no_secret_and_no_latest_image() -> None:
    docs = _k8s_documents()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ConfigMap"}
    assert all(d["kind"] != "Secret" for d in docs)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    containers = deployment["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    for c in containers:
        assert not c["image"].endswith(":latest") and ":" in c["image"]
        assert c["imagePullPolicy"] == "IfNotPresent"
    secret = yaml.safe_load((ROOT / "deploy" / "secret.example.yaml").read_text())
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "gateway-secrets"


def test_the_build_context_leaves_local_environments_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".gateway", "tests/bench/portkey/node_modules", "deploy/.env"} <= ignored


def test_the_image_healthcheck_follows_the_configured_port() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    check = dockerfile[dockerfile.index("HEALTHCHECK") :]
    assert "GATEWAY_PORT" in check and ":8000/health" not in check
