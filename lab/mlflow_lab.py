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
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

LAB_DIR = Path(__file__).resolve().parent
SETTINGS_PATH = LAB_DIR / "lab-settings.json"
#: MLFLOW_TRACKING_AUTH value of the lab's SigV4 provider (training/mlflow-sigv4, an MLflow request-auth provider).
SIGV4_AUTH = "aws-sigv4"
#: The IAM route's path under the gateway's URL (src/app/names.ts IAM_ROUTE_PREFIX).
IAM_ROUTE_SUFFIX = "/iam"
#: MLflow's switch for its "View run ... at: <URL>" lines (set on the IAM route, whose URLs no browser opens).
SUPPRESS_RUN_LINKS = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
#: Its distribution name, installed from training/mlflow-sigv4 (not on PyPI).
SIGV4_DISTRIBUTION = "mlflow-sigv4"


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


def installed_version(distribution: str) -> str | None:
    """The installed release of a package (``sagemaker`` v3 is a namespace package without ``__version__``)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class LabConnection:
    region: str
    tracking_uri: str
    tracking_uri_source: str
    # None with SigV4: the execution role signs the requests, no secret is read.
    secret_name: str | None
    artifact_bucket: str
    server_mlflow_version: str | None
    sigv4: bool = False

    @property
    def ui_uri(self) -> str:
        """Where a person opens MLflow's UI: the password route (a browser cannot sign SigV4 for the IAM route)."""
        return self.tracking_uri[: -len(IAM_ROUTE_SUFFIX)] if self.sigv4 and self.tracking_uri.endswith(IAM_ROUTE_SUFFIX) else self.tracking_uri

    @property
    def credentials(self) -> str:
        return "SigV4 with the execution role (IAM route, no password)" if self.sigv4 else f"secret {self.secret_name}"

    def job_environment(self) -> dict[str, str]:
        """What a training job needs to reach MLflow the way this kernel does (never a password)."""
        reach = {"MLFLOW_TRACKING_AUTH": SIGV4_AUTH} if self.sigv4 else {"LAB_MLFLOW_SECRET_NAME": self.secret_name or ""}
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, **reach, "AWS_DEFAULT_REGION": self.region}


def connect(settings: dict | None = None, boto_session: Any = None) -> LabConnection:
    """Finds the deployed MLflow, signs the MLflow client in and points it at the server.

    On SageMaker the execution role reaches MLflow on the gateway's IAM route with SigV4 and no password:
    MLFLOW_TRACKING_URI with MLFLOW_TRACKING_AUTH=aws-sigv4 (the lab's provider, training/mlflow-sigv4; the
    notebook instance's and Studio's lifecycle configurations set both; MLFLOW_TRACKING_AWS_SIGV4=true of older
    set-ups is taken to mean the same), or else the gateway stack's IAM route output. The region it settles on is
    exported as AWS_DEFAULT_REGION when none is set, for the signer and the SDK. Without either (a deployment without the IAM
    route, a local run), MLFLOW_TRACKING_URI or the gateway stack's tracking URI with the password of the
    credentials secret the MLflow stack reports (or the configured name when that stack cannot be described).
    """
    import boto3
    import mlflow
    from botocore.exceptions import ClientError

    settings = settings if settings is not None else load_settings()
    boto_session = boto_session or boto3.Session()
    region = resolve_region(settings, boto_session)
    cloudformation = boto_session.client("cloudformation", region_name=region)

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    sigv4 = (
        os.environ.get("MLFLOW_TRACKING_AUTH", "").strip() == SIGV4_AUTH
        or os.environ.get("MLFLOW_TRACKING_AWS_SIGV4", "").strip().lower() == "true"
    )
    if tracking_uri:
        source = "environment variable MLFLOW_TRACKING_URI"
    else:
        try:
            tracking_uri, output = output_of(settings, cloudformation, "gateway", "iamTrackingUri"), "iamTrackingUri"
            sigv4 = True
        except LookupError:
            tracking_uri, output = output_of(settings, cloudformation, "gateway", "trackingUri"), "trackingUri"
            sigv4 = False
        source = f"output {lab_setting(settings, 'outputs', 'gateway', output)} of stack {lab_setting(settings, 'stacks', 'gateway')}"
    tracking_uri = tracking_uri.rstrip("/")

    secret_name = None
    if sigv4:
        # MLflow's client signs every request with the session's credentials (the execution role), through the lab's
        # provider. MLflow's own MLFLOW_TRACKING_AWS_SIGV4 signer (requests-auth-aws-sigv4) would take precedence and
        # signs requests API Gateway refuses (names with spaces, repeated parameters, file bodies): it is switched off.
        if installed_version(SIGV4_DISTRIBUTION) is None:
            raise RuntimeError(
                f"The lab's SigV4 provider ({SIGV4_DISTRIBUTION}) is not installed in this kernel: run "
                "`%pip install -r requirements.txt ./training/mlflow-sigv4` and restart the kernel."
            )
        os.environ["MLFLOW_TRACKING_AUTH"] = SIGV4_AUTH
        for variable in ("MLFLOW_TRACKING_AWS_SIGV4", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(variable, None)
        # MLflow would print "View run ... at: <tracking URI>/#/..." links on the IAM route, which no browser can open
        # (it cannot sign): the notebook prints links on the password route (ui_uri) instead.
        os.environ[SUPPRESS_RUN_LINKS] = "true"
    else:
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
    for package, installed, wanted in (
        ("mlflow", mlflow.__version__, pinned),
        ("sagemaker", installed_version("sagemaker"), lab_setting(settings, "sagemakerSdkVersion")),
    ):
        if installed != wanted:
            warnings.warn(
                f"{package} {installed or '(not installed)'} is installed but the lab pins {wanted}: run "
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
    # The signer and the SDK's clients find the region here when the session had none (resolve_region's fallback).
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = region
    mlflow.set_tracking_uri(tracking_uri)
    return LabConnection(region, tracking_uri, source, secret_name, artifact_bucket, server_version, sigv4)


# ---- users mode (auth=users): whose names, and who may read ---------------------------------------------------------

#: MLflow's "who am I" (its authentication app, on the server in users mode only).
CURRENT_USER_PATH = "/api/2.0/mlflow/users/current"
#: MLflow's grant of one permission on one resource to one user (MANAGE on the resource is required).
GRANT_PATH = "/api/3.0/mlflow/users/permissions/grant"


def _mlflow_call(method: str, path: str, body: dict | None = None) -> Any:
    """One request to the tracking server with the client's own credentials (the SigV4 provider, or the password)."""
    from mlflow.tracking import get_tracking_uri
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    kwargs = {"json": body} if body is not None else {}
    return http_request(get_default_host_creds(get_tracking_uri()), path, method, **kwargs)


def mlflow_user() -> str | None:
    """The MLflow user this client is, in users mode (on the IAM route: the user the proxy maps the role to, e.g.
    ``sagemaker-notebook``); None when the server has no users (the shared password: everyone is the same user)."""
    response = _mlflow_call("GET", CURRENT_USER_PATH)
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RuntimeError(f"GET {CURRENT_USER_PATH}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()["user"]["username"]


def lab_name(base: str, user: str | None) -> str:
    """A lab name of one MLflow user: ``<base>-<user>`` in users mode, where each principal owns what it creates and
    nobody else may use it (MLflow's default NO_PERMISSIONS), else ``<base>``."""
    return f"{base}-{user}" if user else base


def share(users: list[str], permission: str = "READ", *, experiment_id: str | None = None, registered_model: str | None = None) -> list[str]:
    """In users mode, grants each of ``users`` (MLflow user names) ``permission`` on the experiment and/or registered
    model, which this client owns (MANAGE): they then see the lab's runs and model in the UI with their own account.
    Returns what was granted, one line each. Does nothing without users or outside users mode."""
    resources = [("experiment", experiment_id), ("registered_model", registered_model)]
    granted: list[str] = []
    if not users or mlflow_user() is None:
        return granted
    for user in users:
        for resource_type, resource_id in resources:
            if not resource_id:
                continue
            body = {"username": user, "resource_type": resource_type, "resource_id": str(resource_id), "permission": permission}
            response = _mlflow_call("POST", GRANT_PATH, body)
            if response.status_code != 200:
                raise RuntimeError(
                    f"granting {permission} on {resource_type} {resource_id} to {user}: HTTP {response.status_code}: "
                    f"{response.text[:300]} (does the MLflow user {user!r} exist? npx mlflow-on-aws users list)"
                )
            granted.append(f"{user}: {permission} on {resource_type} {resource_id}")
    return granted


def _paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


# ---- the training job -------------------------------------------------------------------------------------------

#: Training job states in which SageMaker still bills the job's instances.
TRAINING_JOB_RUNNING = {"InProgress", "Stopping"}


@contextmanager
def stop_training_job_on_error(sagemaker_client: Any, job_name: Callable[[], str | None]) -> Iterator[None]:
    """Stops the training job when the block fails or is interrupted while the job still runs.

    ``ModelTrainer.train(wait=True)`` submits the job and then waits; if the wait is interrupted (a stopped kernel
    cell) or fails on the client side, the job would go on running, and billing, until its stopping condition.
    ``job_name`` returns the submitted job's name, or None when nothing was submitted.
    """
    try:
        yield
    except BaseException:
        name = job_name()
        if name:
            status = sagemaker_client.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
            if status == "InProgress":
                sagemaker_client.stop_training_job(TrainingJobName=name)
                print(f"Stopped training job {name} (it was still running).")
        raise


# ---- the endpoint -----------------------------------------------------------------------------------------------

#: Endpoint states that DeleteEndpoint refuses: wait for them to end first.
ENDPOINT_TRANSITIONAL = {"Creating", "Updating", "SystemUpdating", "RollingBack"}


@dataclass
class DeploymentCleanup:
    """What ``delete_sagemaker_deployment`` found and deleted."""

    endpoint: str | None = None
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    model_archives: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"endpoint {self.endpoint}" if self.endpoint else "no endpoint",
            f"endpoint configurations {', '.join(self.endpoint_configs) or '(none)'}",
            f"models {', '.join(self.models) or '(none)'}",
            f"model archives {', '.join(self.model_archives) or '(none)'}",
        ]
        return "deleted " + "; ".join(parts)


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", {}) or {}
    message = response.get("Error", {}).get("Message", "")
    return response.get("Error", {}).get("Code") in {"ValidationException", "ResourceNotFound"} and (
        "Could not find" in message or "does not exist" in message or "not found" in message.lower()
    )


def _describe_if_exists(describe: Any, **kwargs: Any) -> dict | None:
    """``describe(**kwargs)`` (a SageMaker Describe call), or None when SageMaker says the resource does not exist."""
    from botocore.exceptions import ClientError

    try:
        return describe(**kwargs)
    except ClientError as error:
        if not _not_found(error):
            raise
        return None


def _named_for(name: str, endpoint_name: str, kind: str) -> bool:
    """MLflow names an endpoint's configuration ``<endpoint>-config-<id>`` and its model ``<endpoint>-model-<id>``."""
    return name.startswith(f"{endpoint_name}-{kind}-")


def delete_sagemaker_deployment(
    sagemaker_client: Any,
    s3_client: Any,
    endpoint_name: str,
    wait_seconds: float = 3600,
    poll_seconds: float = 15,
) -> DeploymentCleanup:
    """Deletes everything MLflow's SageMaker deployment of ``endpoint_name`` may have left, whatever step failed.

    MLflow's ``create_deployment`` creates a SageMaker model (after uploading ``model.tar.gz``), an endpoint
    configuration and the endpoint, and cleans none of them up when a later step fails or its wait times out. This
    deletes, when they exist: the endpoint (after waiting, at most ``wait_seconds``, for a Creating or Updating one to
    settle, since SageMaker refuses to delete it before), every endpoint configuration and model named after the
    endpoint, and each model's archive in S3. It is safe to run again: what is gone is skipped.
    """
    done = DeploymentCleanup()
    config_names: set[str] = set()
    endpoint = _describe_if_exists(sagemaker_client.describe_endpoint, EndpointName=endpoint_name)
    if endpoint is not None:
        deadline = time.monotonic() + wait_seconds
        while endpoint["EndpointStatus"] in ENDPOINT_TRANSITIONAL and time.monotonic() < deadline:
            print(f"Endpoint {endpoint_name} is {endpoint['EndpointStatus']}: waiting to delete it...")
            time.sleep(poll_seconds)
            endpoint = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
        config_names.add(endpoint["EndpointConfigName"])
        sagemaker_client.delete_endpoint(EndpointName=endpoint_name)
        done.endpoint = endpoint_name

    config_names.update(
        item["EndpointConfigName"]
        for item in _paginate(sagemaker_client, "list_endpoint_configs", "EndpointConfigs", NameContains=endpoint_name)
        if _named_for(item["EndpointConfigName"], endpoint_name, "config")
    )
    model_names: set[str] = set()
    for config_name in sorted(config_names):
        config = _describe_if_exists(sagemaker_client.describe_endpoint_config, EndpointConfigName=config_name)
        if config is None:
            continue
        model_names.update(variant["ModelName"] for variant in config.get("ProductionVariants", []))
        sagemaker_client.delete_endpoint_config(EndpointConfigName=config_name)
        done.endpoint_configs.append(config_name)

    model_names.update(
        item["ModelName"]
        for item in _paginate(sagemaker_client, "list_models", "Models", NameContains=endpoint_name)
        if _named_for(item["ModelName"], endpoint_name, "model")
    )
    for model_name in sorted(model_names):
        model = _describe_if_exists(sagemaker_client.describe_model, ModelName=model_name)
        if model is None:
            continue
        archive = model.get("PrimaryContainer", {}).get("ModelDataUrl", "")
        if archive.startswith("s3://"):
            bucket, _, key = archive[len("s3://") :].partition("/")
            s3_client.delete_object(Bucket=bucket, Key=key)
            done.model_archives.append(archive)
        sagemaker_client.delete_model(ModelName=model_name)
        done.models.append(model_name)
    return done


@contextmanager
def deployment_cleanup(
    sagemaker_client: Any, s3_client: Any, endpoint_name: str, keep: bool = False, **options: Any
) -> Iterator[None]:
    """Runs the block (deploy, query) and then deletes the deployment, also when the block failed part-way, so that a
    failed deploy or query leaves nothing billing. With ``keep=True`` a deployment that succeeded is kept (a failed
    block is still cleaned up); delete it later with ``delete_sagemaker_deployment``."""
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        if keep and succeeded:
            print(f"Kept endpoint {endpoint_name}: it bills until mlflow_lab.delete_sagemaker_deployment deletes it.")
        else:
            print(delete_sagemaker_deployment(sagemaker_client, s3_client, endpoint_name, **options))


def sagemaker_leftovers(sagemaker_client: Any, name_contains: str) -> dict[str, list[str]]:
    """Endpoints, endpoint configurations, models and running training jobs whose names contain ``name_contains``."""
    return {
        "endpoints": [e["EndpointName"] for e in _paginate(sagemaker_client, "list_endpoints", "Endpoints", NameContains=name_contains)],
        "endpoint_configs": [
            c["EndpointConfigName"]
            for c in _paginate(sagemaker_client, "list_endpoint_configs", "EndpointConfigs", NameContains=name_contains)
        ],
        "models": [m["ModelName"] for m in _paginate(sagemaker_client, "list_models", "Models", NameContains=name_contains)],
        "running_training_jobs": [
            j["TrainingJobName"]
            for j in _paginate(sagemaker_client, "list_training_jobs", "TrainingJobSummaries", NameContains=name_contains)
            if j["TrainingJobStatus"] in TRAINING_JOB_RUNNING
        ],
    }


# ---- the serving image ------------------------------------------------------------------------------------------


def serving_image_uri(ecr_client: Any, repository: str, tag: str) -> str | None:
    """The URI of ``repository:tag`` in this account's ECR, or None when the repository or the tag is missing."""
    try:
        found = ecr_client.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except (ecr_client.exceptions.RepositoryNotFoundException, ecr_client.exceptions.ImageNotFoundException):
        return None
    if not found.get("imageDetails"):
        return None
    registry = found["imageDetails"][0]["registryId"]
    region = ecr_client.meta.region_name
    return f"{registry}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}"


# ---- lab data -----------------------------------------------------------------------------------------------------


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
