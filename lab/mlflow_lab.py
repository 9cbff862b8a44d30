"""Helpers for the SageMaker + MLflow lab notebook.

The lab learns the names of the deployed system (stack names, output keys, secret name, MLflow
version, default region) from ``lab-settings.json`` beside this file. That file is generated from the
CDK app by ``npm run lab:settings`` and checked by ``test/lab``: nothing here spells a stack name, an
output key or a secret name, so the lab cannot drift from the stacks. Read every value through
``lab_setting(settings, ...)``; the tests resolve each such lookup against the CDK app.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

LAB_DIR = Path(__file__).resolve().parent
SETTINGS_PATH = LAB_DIR / "lab-settings.json"


def load_settings(path: Path | str = SETTINGS_PATH) -> dict:
    """Reads lab-settings.json (generated from the CDK app; never edit it by hand)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def lab_setting(settings: dict, *path: str) -> Any:
    """One value of lab-settings.json, e.g. ``lab_setting(settings, "stacks", "gateway")``."""
    value: Any = settings
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or key not in value:
            dotted = ".".join(path[: depth + 1])
            raise KeyError(
                f"lab-settings.json has no '{dotted}'. Regenerate it with `npm run lab:settings` "
                "from the repository root, or update the lab to the new names."
            )
        value = value[key]
    return value


def resolve_region(settings: dict, boto_session: Any = None) -> str:
    """The region to work in: the environment's, else the boto3 session's, else the app's default."""
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(variable):
            return os.environ[variable]
    if boto_session is not None and boto_session.region_name:
        return boto_session.region_name
    return lab_setting(settings, "defaultRegion")


def stack_output(cloudformation: Any, stack_name: str, output_key: str) -> str:
    """The value of one CloudFormation output (needs cloudformation:DescribeStacks on that stack)."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == output_key:
            return output["OutputValue"]
    raise LookupError(f"Stack {stack_name} has no output {output_key}: is it deployed from this version of the app?")


def output_of(settings: dict, cloudformation: Any, stack: str, output: str) -> str:
    """An output of one of the app's stacks, named by the keys of lab-settings.json ("gateway", "trackingUri")."""
    return stack_output(
        cloudformation,
        lab_setting(settings, "stacks", stack),
        lab_setting(settings, "outputs", stack, output),
    )


def fetch_credentials(secretsmanager: Any, secret_id: str) -> tuple[str, str]:
    """Username and password of the MLflow proxy, from the secret {"username": ..., "password": ...}."""
    secret = json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])
    return secret["username"], secret["password"]


def use_basic_auth(username: str, password: str) -> None:
    """MLflow's client sends these as HTTP basic auth on every request (tracking, registry, artifacts)."""
    os.environ["MLFLOW_TRACKING_USERNAME"] = username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password


@dataclass(frozen=True)
class LabConnection:
    region: str
    tracking_uri: str
    tracking_uri_source: str
    secret_name: str
    artifact_bucket: str
    server_mlflow_version: str | None


def connect(settings: dict | None = None, boto_session: Any = None) -> LabConnection:
    """Finds the deployed MLflow, signs the MLflow client in and points it at the server.

    MLFLOW_TRACKING_URI wins when it is set (the notebook instance's lifecycle configuration sets it);
    otherwise the tracking URI is the gateway stack's output. The credentials secret is the one the
    MLflow stack reports, or the configured name when that stack cannot be described.
    """
    import boto3
    import mlflow
    from botocore.exceptions import ClientError

    settings = settings if settings is not None else load_settings()
    boto_session = boto_session or boto3.Session()
    region = resolve_region(settings, boto_session)
    cloudformation = boto_session.client("cloudformation", region_name=region)

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if tracking_uri:
        source = "environment variable MLFLOW_TRACKING_URI"
    else:
        tracking_uri = output_of(settings, cloudformation, "gateway", "trackingUri")
        source = (
            f"output {lab_setting(settings, 'outputs', 'gateway', 'trackingUri')} "
            f"of stack {lab_setting(settings, 'stacks', 'gateway')}"
        )
    tracking_uri = tracking_uri.rstrip("/")

    try:
        secret_name = output_of(settings, cloudformation, "mlflow", "mlflowCredentialsSecretName")
    except (ClientError, LookupError) as error:
        secret_name = lab_setting(settings, "mlflowSecretName")
        print(f"Using the configured secret name {secret_name} ({error.__class__.__name__} reading the stack output).")
    username, password = fetch_credentials(boto_session.client("secretsmanager", region_name=region), secret_name)
    use_basic_auth(username, password)

    artifact_bucket = output_of(settings, cloudformation, "mlflow", "artifactBucketName")
    try:
        server_version = output_of(settings, cloudformation, "mlflow", "mlflowVersion")
    except LookupError:
        server_version = None

    pinned = lab_setting(settings, "mlflowVersion")
    if mlflow.__version__ != pinned:
        warnings.warn(
            f"mlflow {mlflow.__version__} is installed but the lab pins {pinned}: run "
            "`%pip install -r requirements.txt` and restart the kernel.",
            stacklevel=2,
        )
    if server_version and server_version != pinned:
        warnings.warn(
            f"The deployed server runs MLflow {server_version} but this checkout pins {pinned}: "
            "deploy this version of the app or check out the one that was deployed.",
            stacklevel=2,
        )

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    mlflow.set_tracking_uri(tracking_uri)
    return LabConnection(region, tracking_uri, source, secret_name, artifact_bucket, server_version)


def _paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


def delete_sagemaker_experiment(sagemaker_client: Any, experiment_name: str) -> None:
    """Deletes a SageMaker experiment with its runs (trials and trial components).

    Trial components still used by another experiment's trial are left in place and reported.
    """
    from botocore.exceptions import ClientError

    for trial in list(_paginate(sagemaker_client, "list_trials", "TrialSummaries", ExperimentName=experiment_name)):
        trial_name = trial["TrialName"]
        components = list(
            _paginate(sagemaker_client, "list_trial_components", "TrialComponentSummaries", TrialName=trial_name)
        )
        for component in components:
            component_name = component["TrialComponentName"]
            sagemaker_client.disassociate_trial_component(TrialComponentName=component_name, TrialName=trial_name)
            try:
                sagemaker_client.delete_trial_component(TrialComponentName=component_name)
            except ClientError as error:
                print(f"Kept trial component {component_name}: {error.response['Error']['Message']}")
        sagemaker_client.delete_trial(TrialName=trial_name)
    sagemaker_client.delete_experiment(ExperimentName=experiment_name)


def delete_s3_prefix(s3_client: Any, bucket: str, prefix: str) -> int:
    """Deletes every current object under ``prefix`` (versioned buckets keep noncurrent versions
    until their lifecycle rule expires them). Returns the number of objects deleted."""
    if not prefix or prefix in {"/", "."}:
        raise ValueError("Refusing to delete a whole bucket: give a prefix.")
    deleted = 0
    keys = [{"Key": item["Key"]} for item in _paginate(s3_client, "list_objects_v2", "Contents", Bucket=bucket, Prefix=prefix)]
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        s3_client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        deleted += len(batch)
    return deleted
