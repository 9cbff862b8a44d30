"""MLflow's client on the IAM route, signing as the lab does (MLFLOW_TRACKING_AUTH=aws-sigv4), with names that SigV4
canonicalisation gets wrong when a signer does not re-encode: spaces, "+", "&", "=", "%", "'", "/", unicode.

usage: python lab_sigv4_client.py --out RESULT.json   (MLFLOW_TRACKING_URI is the gateway's <url>/iam)
       python lab_sigv4_client.py --tamper            (prints the statuses of signed requests changed after signing)

Covers every HTTP method MLflow's client uses: GET (get-by-name, searches with filters and two order_by values,
artifact listing and download), POST (create, log, set alias), PATCH (rename a registered model, finalize a logged
model), DELETE (alias, logged model tag) and PUT (artifact uploads of file bodies through the proxied artifact store).
Stops at the first failed call; the result says which step failed and what the server sent back.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from pathlib import Path

SUFFIX = " é+&=%'ü"
#: Keys of params and tags: MLflow allows alphanumerics, "_", "-", ".", " ", ":" and "/" only.
KEY = "param with space: a/b"
#: A logged model's tag key goes into the DELETE's path as it is (MLflow's client): no "/" there.
PATH_KEY = "key with space: é"
EXPERIMENT = f"California housing{SUFFIX}"
MODEL = f"California housing RF{SUFFIX}"
ARTIFACT_DIR = "dir with space/ü & +"
ARTIFACT_NAME = "my file (1) +&=%'é.txt"
CONTENT = "median house value, ü\n" * 2000


def tamper() -> dict[str, int]:
    """Requests signed by the provider and then changed (query, body), or signed with another secret: the verifier
    must refuse them, and pass the same request unchanged."""
    import os

    import botocore.session
    import requests
    from mlflow_sigv4 import SigV4

    base = os.environ["MLFLOW_TRACKING_URI"]
    signer = SigV4()
    statuses = {}
    with requests.Session() as session:
        def send(name: str, method: str, url: str, change=None, auth=signer, **kwargs) -> None:
            prepared = auth(requests.Request(method, url, **kwargs).prepare())
            if change:
                change(prepared)
            statuses[name] = session.send(prepared, timeout=60).status_code

        get_url = f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
        send("tampered_query", "GET", get_url, lambda r: setattr(r, "url", r.url.replace("Default", "Defaulu")))
        def other_body(r):
            r.body = b'{"max_results": 6}'
        send("tampered_body", "POST", f"{base}/api/2.0/mlflow/experiments/search", other_body, json={"max_results": 5})
        other = botocore.session.get_session()
        other.set_credentials(os.environ["AWS_ACCESS_KEY_ID"], "not-the-secret", os.environ.get("AWS_SESSION_TOKEN"))
        send("other_secret", "GET", get_url, auth=SigV4(other))
        send("untouched", "GET", get_url)
    return statuses


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tamper", action="store_true")
    args = parser.parse_args(argv)
    if args.tamper:
        print(json.dumps(tamper()))
        return 0
    if not args.out:
        parser.error("--out is required")

    import mlflow
    from mlflow import MlflowClient

    steps: list[str] = []
    result: dict = {"steps": steps, "error": None}

    def step(name: str) -> None:
        steps.append(name)
        print(f"--- {name}", flush=True)

    try:
        client = MlflowClient()
        step("GET experiments/get-by-name, POST experiments/create (set_experiment)")
        experiment = mlflow.set_experiment(EXPERIMENT)
        result["experiment_name"] = client.get_experiment(experiment.experiment_id).name
        step("GET experiments/search with a filter")
        found = client.search_experiments(filter_string="name LIKE 'California housing %'")
        result["experiments_found"] = [e.name for e in found]
        with mlflow.start_run(run_name=f"run{SUFFIX}") as run:
            step("POST runs/log-parameter, log-metric, set-tag")
            mlflow.log_param(KEY, f"value{SUFFIX}")
            mlflow.log_metric("rmse", 0.5)
            mlflow.set_tag("tag", f"value{SUFFIX}")
            step("PUT mlflow-artifacts/artifacts/... (a file body)")
            with tempfile.TemporaryDirectory() as temp:
                path = Path(temp) / ARTIFACT_NAME
                path.write_text(CONTENT, encoding="utf-8")
                mlflow.log_artifact(str(path), artifact_path=ARTIFACT_DIR)
            step("GET mlflow-artifacts/artifacts?path=... (list)")
            result["artifacts"] = [a.path for a in client.list_artifacts(run.info.run_id, ARTIFACT_DIR)]
            step("GET mlflow-artifacts/artifacts/... (download)")
            with tempfile.TemporaryDirectory() as temp:
                local = client.download_artifacts(run.info.run_id, f"{ARTIFACT_DIR}/{ARTIFACT_NAME}", temp)
                result["artifact_round_trip"] = Path(local).read_text(encoding="utf-8") == CONTENT
        step("GET runs/search with a filter and two order_by values")
        runs = client.search_runs([experiment.experiment_id], filter_string=f"params.`{KEY}` LIKE 'value %'",
                                  order_by=["attributes.start_time DESC", "attributes.run_name ASC"])
        result["runs_found"] = len(runs)

        step("POST registered-models/create, model-versions/create; GET model-versions/get")
        client.create_registered_model(MODEL)
        version = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/{ARTIFACT_DIR}", run_id=run.info.run_id)
        result["model_version"] = client.get_model_version(MODEL, version.version).version
        step("GET model-versions/search with a filter")
        result["versions_found"] = len(client.search_model_versions("name LIKE 'California housing RF %'"))
        step("GET registered-models/search with two order_by values")
        result["models_found"] = [m.name for m in client.search_registered_models(order_by=["name ASC", "last_updated_timestamp DESC"])]
        step("POST registered-models/alias; GET registered-models/alias")
        client.set_registered_model_alias(MODEL, f"alias-{1}", version.version)
        result["alias_version"] = client.get_model_version_by_alias(MODEL, "alias-1").version
        step("DELETE registered-models/alias")
        client.delete_registered_model_alias(MODEL, "alias-1")
        step("PATCH registered-models/update")
        client.update_registered_model(MODEL, description=f"described{SUFFIX}")
        result["description"] = client.get_registered_model(MODEL).description

        step("POST logged-models; PATCH logged-models/{id} (finalize); DELETE logged-models/{id}/tags/{key}")
        logged = client.create_logged_model(experiment.experiment_id, name="logged", tags={PATH_KEY: f"v{SUFFIX}"})
        client.finalize_logged_model(logged.model_id, "READY")
        client.delete_logged_model_tag(logged.model_id, PATH_KEY)
        result["logged_model_tags"] = client.get_logged_model(logged.model_id).tags
    except BaseException as error:  # report what failed, where
        result["error"] = {"step": steps[-1] if steps else None, "type": error.__class__.__name__, "message": str(error)[:2000],
                           "traceback": traceback.format_exc()[-4000:]}
    args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
