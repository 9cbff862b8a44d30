"""The lab's tracking loop against a running MLflow, as a SageMaker job and the notebook would drive it.

Runs the lab's own training script (lab/training/train.py) on a small data set made here (no download), exactly as
the SageMaker training job runs it: the script reads the proxy's credentials from Secrets Manager, creates or reuses
the experiment, logs parameters, metrics and an sklearn model (artifacts to S3) and registers the model. Then, with
the MLflow client as the notebook uses it: one log_batch of 1,000 metrics, an artifact, an alias on the registered
version, and loading the model back by alias to predict.

Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (for the notebook part),
LAB_MLFLOW_SECRET_NAME, AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL and AWS credentials of the stand-in,
E2E_EXPERIMENT, E2E_MODEL, E2E_TRAIN_SCRIPT. Prints one JSON object with what it observed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_regression

TARGET = "target"


def make_channels(root: Path) -> tuple[Path, Path, pd.DataFrame]:
    features, target = make_regression(n_samples=240, n_features=5, noise=0.5, random_state=7)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
    frame[TARGET] = target
    train_dir, test_dir = root / "train", root / "test"
    train_dir.mkdir()
    test_dir.mkdir()
    frame.iloc[:200].to_csv(train_dir / "train.csv", index=False)
    frame.iloc[200:].to_csv(test_dir / "test.csv", index=False)
    return train_dir, test_dir, frame.iloc[200:].drop(columns=[TARGET])


def run_training_script(train_dir: Path, test_dir: Path, model_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The training job has no MLflow password in its environment: train.py reads it from Secrets Manager.
    env.pop("MLFLOW_TRACKING_USERNAME", None)
    env.pop("MLFLOW_TRACKING_PASSWORD", None)
    env["MLFLOW_EXPERIMENT_NAME"] = os.environ["E2E_EXPERIMENT"]
    env["LAB_REGISTERED_MODEL_NAME"] = os.environ["E2E_MODEL"]
    completed = subprocess.run(
        [sys.executable, os.environ["E2E_TRAIN_SCRIPT"], "--train", str(train_dir), "--test", str(test_dir),
         "--model-dir", str(model_dir), "--n-estimators", "8", "--target", TARGET],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if completed.returncode != 0:
        raise SystemExit(f"train.py failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return dict(line.split("=", 1) for line in completed.stdout.splitlines() if "=" in line and " " not in line)


def main() -> None:
    experiment_name = os.environ["E2E_EXPERIMENT"]
    model_name = os.environ["E2E_MODEL"]
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        train_dir, test_dir, test_features = make_channels(root)
        printed = run_training_script(train_dir, test_dir, root / "model")
        training_run_id = printed["mlflow_run_id"]
        registered = printed["mlflow_model_version"]

        # The notebook's part: a batch of metrics, an artifact, an alias, and the model back by alias.
        experiment = client.get_experiment_by_name(experiment_name)
        batch_run = client.create_run(experiment.experiment_id, run_name="log-batch")
        now = int(time.time() * 1000)
        metrics = [Metric(key=f"loss_{k}", value=float(step) / (k + 1), timestamp=now, step=step)
                   for k in range(10) for step in range(100)]
        client.log_batch(batch_run.info.run_id, metrics=metrics)
        notes = root / "notes.txt"
        notes.write_text("logged by the end-to-end suite\n", encoding="utf-8")
        client.log_artifact(batch_run.info.run_id, str(notes))
        client.set_terminated(batch_run.info.run_id)

        version = registered.rsplit("/", 1)[1]
        client.set_registered_model_alias(model_name, "champion", version)
        model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
        predictions = np.asarray(model.predict(test_features))

        batch = client.get_run(batch_run.info.run_id)
        training = client.get_run(training_run_id)
        print(json.dumps({
            "experiment_id": experiment.experiment_id,
            "training_run_id": training_run_id,
            "training_params": training.data.params,
            "training_metrics": sorted(training.data.metrics),
            "training_artifact_uri": training.info.artifact_uri,
            "registered": registered,
            "alias_version": client.get_model_version_by_alias(model_name, "champion").version,
            "batch_run_id": batch_run.info.run_id,
            "batch_artifact_uri": batch.info.artifact_uri,
            "batch_metric_keys": len(batch.data.metrics),
            "batch_history_points": sum(len(client.get_metric_history(batch_run.info.run_id, f"loss_{k}")) for k in range(10)),
            "batch_artifacts": [item.path for item in client.list_artifacts(batch_run.info.run_id)],
            "predictions": len(predictions),
            "predictions_finite": bool(np.isfinite(predictions).all()),
        }))


if __name__ == "__main__":
    main()
