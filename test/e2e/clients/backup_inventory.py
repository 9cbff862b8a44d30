"""Fills an MLflow server with runs, metrics, params, tags, an artifact and a registered model (`fill`), or reads
everything back (`read`), through the MLflow client (MLFLOW_TRACKING_URI/USERNAME/PASSWORD); prints one JSON line.
Used by test/e2e/backup-restore.test.ts to compare a deployment with the one restored from its dump."""
import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient

EXPERIMENT = "backup-restore"
MODEL = "backup-restore-model"


def fill():
    client = MlflowClient()
    experiment_id = client.create_experiment(EXPERIMENT, tags={"team": "ops"})
    runs = []
    for index in range(3):
        run = client.create_run(experiment_id, run_name=f"run-{index}", tags={"kind": "restore-test"})
        run_id = run.info.run_id
        client.log_param(run_id, "alpha", str(0.1 * (index + 1)))
        for step in range(5):
            client.log_metric(run_id, "loss", 1.0 / (step + 1 + index), step=step, timestamp=1_700_000_000_000 + step)
        client.set_tag(run_id, "index", str(index))
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "notes.txt")
            with open(path, "w") as handle:
                handle.write(f"notes of run {index}\n")
            client.log_artifact(run_id, path)
        client.set_terminated(run_id)
        runs.append(run_id)
    client.create_registered_model(MODEL, description="restored?")
    client.create_model_version(MODEL, source=f"runs:/{runs[0]}/notes.txt", run_id=runs[0])
    client.set_registered_model_alias(MODEL, "champion", "1")
    return {"experiment_id": experiment_id, "runs": runs}


def read():
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.run_name ASC"])
    out = {"experiment_id": experiment.experiment_id, "experiment_tags": {"team": experiment.tags.get("team")}, "runs": []}
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "loss")
        with tempfile.TemporaryDirectory() as folder:
            local = client.download_artifacts(run.info.run_id, "notes.txt", folder)
            with open(local) as handle:
                notes = handle.read()
        out["runs"].append({
            "run_id": run.info.run_id,
            "name": run.info.run_name,
            "status": run.info.status,
            "params": run.data.params,
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            "loss": [[m.step, m.value, m.timestamp] for m in sorted(history, key=lambda m: m.step)],
            "notes": notes,
        })
    model = client.get_registered_model(MODEL)
    version = client.get_model_version_by_alias(MODEL, "champion")
    out["model"] = {"description": model.description, "version": version.version, "run_id": version.run_id, "source": version.source}
    return out


if __name__ == "__main__":
    print(json.dumps({"fill": fill, "read": read}[sys.argv[1]](), sort_keys=True))
