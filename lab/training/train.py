"""Training script of the lab: the entry script of a SageMaker training job in the scikit-learn image.

The notebook's ``ModelTrainer`` (SageMaker Python SDK v3) ships ``training/`` as the job's ``code`` channel with
``SourceCode(source_dir="training", entry_script="train.py", requirements="requirements.txt")``. In the job, the SDK's
driver installs requirements.txt, sets ``SM_CHANNEL_<NAME>``, ``SM_MODEL_DIR`` and the other ``SM_*`` variables, and
runs ``python train.py --<hyperparameter> <value> ...`` from the code channel. Any other argument is an error: a
hyperparameter this script does not know fails the job instead of being ignored.

It fits a random forest on the California housing data of the ``train`` and ``test`` channels and records the run in
the deployed MLflow: autologged parameters and training metrics, explicit dataset parameters and test metrics, the
model (registered in the MLflow model registry) and tags that name the SageMaker training job.

The notebook passes everything it needs as environment variables (no secret among them; on SageMaker the job's
execution role signs its requests to the gateway's IAM route, elsewhere the password is read here from Secrets Manager):

- MLFLOW_TRACKING_URI            the gateway's tracking URI (its IAM route, `<endpoint>/iam`, with SigV4)
- MLFLOW_TRACKING_AUTH           "aws-sigv4": MLflow's client signs the requests with the job's role (the lab's SigV4
                                 provider, ./mlflow-sigv4, installed from requirements.txt), no password
- MLFLOW_EXPERIMENT_NAME         MLflow experiment to record the run in
- LAB_MLFLOW_SECRET_NAME         without SigV4: Secrets Manager secret holding {"username": ..., "password": ...}
- LAB_REGISTERED_MODEL_NAME      MLflow registered model to add a version to
- AWS_DEFAULT_REGION             region of the secret

SageMaker itself sets TRAINING_JOB_NAME and TRAINING_JOB_ARN in the job's container.
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import os
import sys
from importlib import metadata
from urllib.parse import urlparse

import boto3
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

# MLflow 3 saves scikit-learn models in the skops format, which refuses to load (and so to save) types it does not
# trust; a random forest's trees are such a type. This script made the model itself, so it trusts exactly that type.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]

#: What the model needs to load and predict, pinned to the versions that trained it. MLflow would otherwise infer the
#: list from the imported modules and the distributions that provide them, which in the SageMaker scikit-learn image
#: includes ``typing==3.10.0.0`` (a Python 2 backport pulled in by sagemaker-inference, installed there by uv despite
#: its Requires-Python); pip refuses that line, so the serving image could not build the model's environment.
MODEL_DISTRIBUTIONS = ["mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas"]
#: The lab's SigV4 provider's MLFLOW_TRACKING_AUTH value.
SIGV4_AUTH = "aws-sigv4"
#: The IAM route's path under the gateway's URL (src/names.ts IAM_ROUTE_PREFIX).
IAM_ROUTE_SUFFIX = "/iam"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Hyperparameters: the SDK's job driver passes each of the ModelTrainer's hyperparameters as --name value.
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=0, help="0 grows trees until leaves are pure")
    parser.add_argument("--min-samples-leaf", type=int, default=3)
    parser.add_argument("--random-state", type=int, default=42)
    parser.add_argument("--target", default="MedHouseVal")
    # Locations SageMaker provides.
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--test", default=os.environ.get("SM_CHANNEL_TEST"))
    return parser.parse_args(argv)


def read_channel(directory: str | None, name: str) -> pd.DataFrame:
    if not directory:
        raise SystemExit(f"No '{name}' channel: pass --{name} or run as a SageMaker training job with that channel.")
    files = sorted(glob.glob(os.path.join(directory, "*.csv")))
    if not files:
        raise SystemExit(f"The '{name}' channel ({directory}) holds no CSV file.")
    return pd.concat((pd.read_csv(path) for path in files), ignore_index=True)


def required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit(f"Environment variable {name} is not set: the notebook passes it to the ModelTrainer.")
    return value


def model_pip_requirements() -> list[str]:
    """``name==version`` of MODEL_DISTRIBUTIONS as installed here (mlflow: the running client's release)."""
    versions = {name: metadata.version(name) for name in MODEL_DISTRIBUTIONS if name != "mlflow"}
    return [f"mlflow=={mlflow.__version__}", *(f"{name}=={version}" for name, version in versions.items())]


def sign_in_to_mlflow() -> None:
    """With SigV4 nothing to read (MLflow signs with the job's role); else the password from Secrets Manager."""
    if os.environ.get("MLFLOW_TRACKING_AUTH", "").strip() == SIGV4_AUTH:
        # MLflow's own signer would take precedence over the provider if this were set (older notebooks set it).
        os.environ.pop("MLFLOW_TRACKING_AWS_SIGV4", None)
        # MLflow's "View run ... at:" links would name the IAM route, which no browser opens: run_link() instead.
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    else:
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        secrets = boto3.client("secretsmanager", region_name=region)
        secret = json.loads(secrets.get_secret_value(SecretId=required_env("LAB_MLFLOW_SECRET_NAME"))["SecretString"])
        os.environ["MLFLOW_TRACKING_USERNAME"] = secret["username"]
        os.environ["MLFLOW_TRACKING_PASSWORD"] = secret["password"]
    mlflow.set_tracking_uri(required_env("MLFLOW_TRACKING_URI"))
    mlflow.set_experiment(required_env("MLFLOW_EXPERIMENT_NAME"))


def run_link(experiment_id: str, run_id: str) -> str:
    """The run in the MLflow UI: on the password route (the tracking URI without the IAM route's /iam), which a
    browser opens with a person's account."""
    uri = required_env("MLFLOW_TRACKING_URI").rstrip("/")
    if uri.endswith(IAM_ROUTE_SUFFIX):
        uri = uri[: -len(IAM_ROUTE_SUFFIX)]
    return f"{uri}/#/experiments/{experiment_id}/runs/{run_id}"


def training_job_identity() -> dict[str, str]:
    """Name and ARN of the running SageMaker training job (empty outside SageMaker)."""
    training_env = json.loads(os.environ.get("SM_TRAINING_ENV", "{}"))
    identity = {
        "sagemaker.training_job_name": os.environ.get("TRAINING_JOB_NAME") or training_env.get("job_name", ""),
        "sagemaker.training_job_arn": os.environ.get("TRAINING_JOB_ARN", ""),
        "sagemaker.region": os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION", ""),
    }
    return {key: value for key, value in identity.items() if value}


def skops_options(function) -> dict:
    """The trusted-types argument for MLflow releases that save with skops (MLflow 2 has no such argument)."""
    return {"skops_trusted_types": SKOPS_TRUSTED_TYPES} if "skops_trusted_types" in inspect.signature(function).parameters else {}


def evaluate(model: RandomForestRegressor, features: pd.DataFrame, target: pd.Series) -> dict[str, float]:
    predictions = model.predict(features)
    return {
        "test_rmse": float(np.sqrt(mean_squared_error(target, predictions))),
        "test_mae": float(mean_absolute_error(target, predictions)),
        "test_r2": float(r2_score(target, predictions)),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    train = read_channel(args.train, "train")
    test = read_channel(args.test, "test")
    for name, frame in (("train", train), ("test", test)):
        if args.target not in frame.columns:
            raise SystemExit(f"The '{name}' data has no target column {args.target!r}; columns: {list(frame.columns)}")
    x_train, y_train = train.drop(columns=[args.target]), train[args.target]
    x_test, y_test = test.drop(columns=[args.target]), test[args.target]

    sign_in_to_mlflow()
    # Autologging records the estimator's parameters and training metrics; the model is logged
    # explicitly below, once, with a signature and an input example, and registered.
    mlflow.sklearn.autolog(log_models=False)

    identity = training_job_identity()
    registered_model_name = required_env("LAB_REGISTERED_MODEL_NAME")
    with mlflow.start_run(run_name=identity.get("sagemaker.training_job_name"), tags=identity) as run:
        model = RandomForestRegressor(
            n_estimators=args.n_estimators,
            max_depth=args.max_depth or None,
            min_samples_leaf=args.min_samples_leaf,
            random_state=args.random_state,
            n_jobs=-1,
        )
        model.fit(x_train, y_train)

        metrics = evaluate(model, x_test, y_test)
        mlflow.log_params(
            {
                "dataset": "sklearn.datasets.fetch_california_housing",
                "target": args.target,
                "features": ",".join(x_train.columns),
                "train_rows": len(train),
                "test_rows": len(test),
            }
        )
        mlflow.log_metrics(metrics)

        model_info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            signature=infer_signature(x_test, model.predict(x_test)),
            input_example=x_test.head(5),
            registered_model_name=registered_model_name,
            pip_requirements=model_pip_requirements(),
            **skops_options(mlflow.sklearn.log_model),
        )
        version = model_info.registered_model_version
        mlflow.set_tag("lab.registered_model", f"{registered_model_name}/{version}")

        # SageMaker keeps /opt/ml/model as the job's model.tar.gz: store the same model there too.
        mlflow.sklearn.save_model(
            model,
            os.path.join(args.model_dir, "mlflow-model"),
            pip_requirements=model_pip_requirements(),
            **skops_options(mlflow.sklearn.save_model),
        )

    # One line per metric for the ModelTrainer's metric definitions (shown in SageMaker as job metrics).
    for name, value in metrics.items():
        print(f"{name}={value:.6f}")
    print(f"mlflow_run_id={run.info.run_id}")
    if urlparse(required_env("MLFLOW_TRACKING_URI")).scheme in ("http", "https"):
        print(f"MLflow UI: {run_link(run.info.experiment_id, run.info.run_id)}")
    print(f"mlflow_model_version={registered_model_name}/{version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
