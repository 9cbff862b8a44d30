"""The lab's MLflow steps as one SageMaker principal, in users mode: what the notebook's cells and the training job do
with MLflow, through the lab's own code (mlflow_lab's names and grants, training/train.py), with SigV4 on the IAM route.

Run with the lab's environment and the SigV4 provider, with the principal's AWS credentials, MLFLOW_TRACKING_URI (the
IAM route) and MLFLOW_TRACKING_AUTH=aws-sigv4 in the environment:

    python lab_users_client.py --lab-dir LAB --data DIR --share-with USER [...] --out FILE

The notebook's cell 5 (MLFLOW_USER, EXPERIMENT_NAME, REGISTERED_MODEL_NAME), cell 9 (set_experiment, share the
experiment), the job (train.py, with the notebook's variables: it logs the run and registers a version), cells 13 and
15 (find the run by the job's name, alias and tag the version, share the model). Writes what it did as JSON to FILE;
any MLflow error (e.g. PERMISSION_DENIED) ends it non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--share-with", action="append", default=[])
    parser.add_argument("--job-name", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.lab_dir))

    import mlflow
    from mlflow import MlflowClient

    import mlflow_lab

    # Cell 5: the names of this principal.
    mlflow_user = mlflow_lab.mlflow_user()
    experiment_name = mlflow_lab.lab_name("california-housing", mlflow_user)
    registered_model_name = mlflow_lab.lab_name("california-housing-rf", mlflow_user)
    # Cell 9.
    experiment = mlflow.set_experiment(experiment_name)
    granted = mlflow_lab.share(args.share_with, experiment_id=experiment.experiment_id)

    # The training job, as the same role, with the notebook's environment for it.
    job = subprocess.run(
        [sys.executable, str(args.lab_dir / "training" / "train.py"), "--n-estimators", "10", "--max-depth", "6",
         "--train", str(args.data / "train"), "--test", str(args.data / "test"), "--model-dir", str(args.out.parent / f"model-{args.job_name}")],
        env={**os.environ, "MLFLOW_EXPERIMENT_NAME": experiment_name, "LAB_REGISTERED_MODEL_NAME": registered_model_name,
             "TRAINING_JOB_NAME": args.job_name},
        capture_output=True, text=True,
    )
    if job.returncode != 0:
        raise SystemExit(f"train.py failed ({job.returncode}):\n{job.stdout[-3000:]}\n{job.stderr[-6000:]}")

    # Cells 13 and 15.
    client = MlflowClient()
    runs = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"tags.`sagemaker.training_job_name` = '{args.job_name}'",
        output_format="list",
    )
    if len(runs) != 1:
        raise SystemExit(f"expected one run of {args.job_name}, found {len(runs)}")
    version = runs[0].data.tags["lab.registered_model"].rsplit("/", 1)[1]
    client.set_registered_model_alias(registered_model_name, "sagemaker-lab", version)
    client.set_model_version_tag(registered_model_name, version, "sagemaker.training_job_name", args.job_name)
    granted += mlflow_lab.share(args.share_with, registered_model=registered_model_name)

    args.out.write_text(json.dumps({
        "mlflow_user": mlflow_user,
        "experiment_name": experiment_name,
        "experiment_id": experiment.experiment_id,
        "registered_model_name": registered_model_name,
        "model_version": version,
        "run_id": runs[0].info.run_id,
        "granted": granted,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
