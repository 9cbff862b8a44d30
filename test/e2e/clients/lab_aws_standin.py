"""What the lab notebook finds in an AWS account once the platform is deployed, made in moto's server; and SageMaker's
part of the work that moto does not do (it records training jobs and endpoints but runs nothing).

Run with the lab's own environment (lab/requirements.txt), against the end-to-end stack's moto server
(AWS_ENDPOINT_URL and the stand-in's credentials in the environment).

``python lab_aws_standin.py seed --out DIR`` creates, like the deployed stacks:
- the two stacks the lab reads (CloudFormation, with the outputs the CDK app declares: names from lab-settings.json);
- the execution role, and a notebook instance acting with it (what ``get_execution_role`` resolves on SageMaker);
- the serving image ``mlflow-pyfunc:<mlflow version>`` in ECR (what ``servingImage=true`` builds);
and writes into DIR the notebook instance's ``resource-metadata.json`` (SageMaker mounts it at /opt/ml/metadata) and a
scikit-learn data home holding a small, made-up California housing table (``fetch_california_housing`` reads it
instead of downloading). It prints a JSON object with what it made.

``TrainingJobStandIn`` and ``EndpointStandIn`` are used by lab_notebook.py while the notebook runs.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import requests

HERE = Path(__file__).resolve().parent
NOTEBOOK_INSTANCE = "mlflow-lab"
ROLE_NAME = "mlflow-lab-execution-role"


def endpoint() -> str:
    return os.environ["AWS_ENDPOINT_URL"].rstrip("/")


# ---- seeding ------------------------------------------------------------------------------------------------------


def create_stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    """A stack with the given outputs (literal values) and one placeholder resource (CloudFormation needs one)."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def write_housing_data(data_home: Path, rows: int = 600, seed: int = 11) -> None:
    """cal_housing_py3.pkz as scikit-learn caches the real download: (rows, 9) in its column order (median house
    value in dollars, then the eight raw features), made up here with a value that depends on income and rooms."""
    import joblib

    rng = np.random.default_rng(seed)
    households = rng.uniform(100, 1500, rows)
    income = rng.uniform(0.5, 15, rows)
    rooms = households * rng.uniform(3, 8, rows)
    bedrooms = rooms * rng.uniform(0.15, 0.3, rows)
    population = households * rng.uniform(1.5, 4, rows)
    age = rng.uniform(1, 52, rows)
    latitude = rng.uniform(32.5, 42, rows)
    longitude = rng.uniform(-124.3, -114.3, rows)
    value = np.clip(40_000 * income + 6_000 * rooms / households + rng.normal(0, 20_000, rows), 15_000, 500_001)
    table = np.column_stack([value, income, age, rooms, bedrooms, population, households, latitude, longitude])
    data_home.mkdir(parents=True, exist_ok=True)
    joblib.dump(table, data_home / "cal_housing_py3.pkz", compress=6)


def put_image(ecr: Any, repository: str, tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:" + "0" * 64},
        "layers": [],
    }
    ecr.create_repository(repositoryName=repository)
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def seed(settings_path: Path, out: Path, tracking_uri: str, bucket: str, secret_name: str, iam_tracking_uri: str | None = None) -> dict[str, Any]:
    settings = json.loads(settings_path.read_text())
    region = os.environ["AWS_DEFAULT_REGION"]
    session = boto3.Session(region_name=region)
    stacks, outputs = settings["stacks"], settings["outputs"]
    cloudformation = session.client("cloudformation")
    gateway_outputs = {outputs["gateway"]["trackingUri"]: tracking_uri, outputs["gateway"]["apiId"]: "abc123"}
    if iam_tracking_uri:
        gateway_outputs[outputs["gateway"]["iamTrackingUri"]] = iam_tracking_uri
    create_stack(cloudformation, stacks["gateway"], gateway_outputs)
    create_stack(cloudformation, stacks["mlflow"], {
        outputs["mlflow"]["artifactBucketName"]: bucket,
        outputs["mlflow"]["artifactBucketArn"]: f"arn:aws:s3:::{bucket}",
        outputs["mlflow"]["mlflowCredentialsSecretName"]: secret_name,
        outputs["mlflow"]["mlflowVersion"]: settings["mlflowVersion"],
    })

    iam = session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sagemaker = session.client("sagemaker")
    instance_arn = sagemaker.create_notebook_instance(
        NotebookInstanceName=NOTEBOOK_INSTANCE, InstanceType="ml.t3.medium", RoleArn=role_arn
    )["NotebookInstanceArn"]

    from mlflow.sagemaker import DEFAULT_IMAGE_NAME

    put_image(session.client("ecr"), DEFAULT_IMAGE_NAME, settings["mlflowVersion"])

    metadata = out / "metadata"
    metadata.mkdir(parents=True, exist_ok=True)
    # What a notebook instance has at /opt/ml/metadata/resource-metadata.json.
    (metadata / "resource-metadata.json").write_text(json.dumps({"ResourceArn": instance_arn, "ResourceName": NOTEBOOK_INSTANCE}))
    write_housing_data(out / "scikit_learn_data")
    return {"role_arn": role_arn, "notebook_instance_arn": instance_arn, "metadata_dir": str(metadata), "data_home": str(out / "scikit_learn_data")}


# ---- what SageMaker would run ---------------------------------------------------------------------------------------


def recorded_requests() -> list[dict[str, Any]]:
    """Every request moto's recorder holds, with the JSON body decoded where there is one."""
    response = requests.get(f"{endpoint()}/moto-api/recorder/download-recording", timeout=30)
    response.raise_for_status()
    entries = []
    for line in response.text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        entry["target"] = {k.lower(): v for k, v in entry.get("headers", {}).items()}.get("x-amz-target", "")
        try:
            entry["json"] = json.loads(body) if entry["target"] else None
        except json.JSONDecodeError:
            entry["json"] = None
        entries.append(entry)
    return entries


def sagemaker_calls(operation: str) -> list[dict[str, Any]]:
    return [entry["json"] for entry in recorded_requests() if entry["target"] == f"SageMaker.{operation}"]


def mount_namespace_prefix() -> list[str]:
    """unshare arguments for a private mount namespace (a user namespace too when not root)."""
    base = ["unshare", "--mount", "--propagation", "private"]
    return base if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


class TrainingJobStandIn:
    """Runs a training job the notebook submitted, as SageMaker runs it, on this machine.

    From the job's CreateTrainingJob request (moto keeps the job but not all of the request, so it is read from moto's
    request recording): the channels are downloaded from S3 into /opt/ml/input/data/<channel>, the hyperparameters,
    channels and resources written to /opt/ml/input/config, the job's environment set with TRAINING_JOB_NAME and
    TRAINING_JOB_ARN, and the request's container entry point and arguments run (for ``ModelTrainer`` with source code:
    the SDK's own sm_train.sh, which installs the requirements and runs the entry script with the hyperparameters).
    /opt/ml is a private mount of a temporary folder, seen only by the job. The image's Python is a fresh venv per
    job that sees the lab's environment's packages (a .pth file): the job's driver pip-installs the job's
    requirements into it, offline (no index, no build isolation): mlflow at the server's version is already
    satisfied, and the lab's SigV4 provider (./mlflow-sigv4) is built from the code channel, as in the image.
    Finally /opt/ml/model goes to S3 as model.tar.gz, as SageMaker uploads it.
    """

    def __init__(self, python_bin: str, log_dir: Path):
        self.python_bin = python_bin
        self.log_dir = log_dir
        self.seen: set[str] = {request["TrainingJobName"] for request in sagemaker_calls("CreateTrainingJob")}
        self.runs: list[dict[str, Any]] = []

    def image_python(self, where: Path) -> str:
        """A venv for one job whose base packages are the lab environment's; returns its bin folder."""
        lab_python = Path(self.python_bin) / "python3"
        base, site = subprocess.run(
            [str(lab_python), "-c", "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        subprocess.run([str(Path(base) / "bin" / "python3"), "-m", "venv", "--without-pip", str(where)], check=True)
        purelib = subprocess.run([str(where / "bin" / "python3"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        Path(purelib, "lab-environment.pth").write_text(site + "\n")
        return str(where / "bin")

    def run_new_jobs(self) -> list[dict[str, Any]]:
        finished = []
        for request in sagemaker_calls("CreateTrainingJob"):
            if request["TrainingJobName"] in self.seen:
                continue
            self.seen.add(request["TrainingJobName"])
            finished.append(self.run(request))
        return finished

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TrainingJobName"]
        region = os.environ["AWS_DEFAULT_REGION"]
        s3 = boto3.client("s3", region_name=region)
        with tempfile.TemporaryDirectory(prefix="sm-job-") as temp:
            root = Path(temp) / "ml"
            for folder in ("input/config", "input/data", "model", "output/data", "code"):
                (root / folder).mkdir(parents=True, exist_ok=True)
            channels = {}
            for channel in request.get("InputDataConfig", []):
                uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
                bucket, _, prefix = uri[len("s3://") :].partition("/")
                target = root / "input" / "data" / channel["ChannelName"]
                target.mkdir(parents=True, exist_ok=True)
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    for item in page.get("Contents", []):
                        relative = item["Key"][len(prefix) :].lstrip("/") or Path(item["Key"]).name
                        (target / relative).parent.mkdir(parents=True, exist_ok=True)
                        s3.download_file(bucket, item["Key"], str(target / relative))
                channels[channel["ChannelName"]] = {"TrainingInputMode": channel.get("InputMode", "File"), "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
            resources = request["ResourceConfig"]
            (root / "input/config/hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
            (root / "input/config/inputdataconfig.json").write_text(json.dumps(channels))
            (root / "input/config/resourceconfig.json").write_text(json.dumps({
                "current_host": "algo-1", "current_instance_type": resources["InstanceType"], "current_group_name": "homogeneousCluster",
                "hosts": ["algo-1"], "network_interface_name": "eth0",
                "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": resources["InstanceType"], "hosts": ["algo-1"]}],
            }))

            image_python = self.image_python(Path(temp) / "image")
            spec = request["AlgorithmSpecification"]
            command = [*(spec.get("ContainerEntrypoint") or []), *(spec.get("ContainerArguments") or [])]
            if not command:
                raise RuntimeError(f"training job {name}: no ContainerEntrypoint; the stand-in runs only jobs that say what to run")
            environment = {
                # The image: its Python first on PATH. The account: the stand-in's endpoint and credentials.
                "PATH": f"{image_python}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                # The job's pip, offline: what the lab's environment holds, and local source trees built in place.
                "PIP_NO_INDEX": "1",
                "PIP_NO_BUILD_ISOLATION": "0",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "HOME": str(Path(temp)),
                **{k: v for k, v in os.environ.items() if k.startswith("AWS_") or k == "MLFLOW_S3_ENDPOINT_URL"},
                **request.get("Environment", {}),
                "TRAINING_JOB_NAME": name,
                "TRAINING_JOB_ARN": f"arn:aws:sagemaker:{region}:123456789012:training-job/{name}",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            mount = f'mount -t tmpfs tmpfs /opt && mkdir -p /opt/ml && mount --bind "{root}" /opt/ml && cd / && exec "$@"'
            log_path = self.log_dir / f"{name}.log"
            with open(log_path, "w") as log:
                completed = subprocess.run(
                    [*mount_namespace_prefix(), "--", "sh", "-c", mount, "job", *command],
                    env=environment, stdout=log, stderr=subprocess.STDOUT, timeout=900,
                )
            failure = (root / "output" / "failure").read_text() if (root / "output" / "failure").exists() else ""
            result = {
                "name": name,
                "request": request,
                "exit_code": completed.returncode,
                "failure": failure,
                "log": str(log_path),
                "model_files": sorted(str(p.relative_to(root / "model")) for p in (root / "model").rglob("*") if p.is_file()),
            }
            requirements = root / "model" / "mlflow-model" / "requirements.txt"
            if requirements.exists():
                result["model_requirements"] = requirements.read_text().split()
            if completed.returncode == 0:
                archive = Path(temp) / "model.tar.gz"
                with tarfile.open(archive, "w:gz") as tar:
                    for item in (root / "model").iterdir():
                        tar.add(item, arcname=item.name)
                output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
                bucket, _, prefix = output[len("s3://") :].partition("/")
                key = f"{prefix}/{name}/output/model.tar.gz".lstrip("/")
                s3.upload_file(str(archive), bucket, key)
                result["model_artifact"] = f"s3://{bucket}/{key}"
        self.runs.append(result)
        if result["exit_code"] != 0:
            tail = Path(result["log"]).read_text()[-4000:]
            raise RuntimeError(f"Training job {name} failed (exit {result['exit_code']}): {failure}\n{tail}")
        return result


class EndpointStandIn:
    """Answers InvokeEndpoint as the MLflow serving image would: moto returns whatever is queued for the next
    invocation, so just before each call this loads the model of the endpoint's configuration from its model.tar.gz
    (from S3), parses the request body with MLflow's scoring server and queues the predictions as the response."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def before_invoke(self, endpoint_name: str, body: Any, content_type: str) -> None:
        import mlflow.pyfunc
        from mlflow.pyfunc import scoring_server

        region = os.environ["AWS_DEFAULT_REGION"]
        sagemaker = boto3.client("sagemaker", region_name=region)
        endpoint_info = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        if endpoint_info["EndpointStatus"] != "InService":
            raise RuntimeError(f"endpoint {endpoint_name} is {endpoint_info['EndpointStatus']}")
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint_info["EndpointConfigName"])
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        bucket, _, key = model["PrimaryContainer"]["ModelDataUrl"][len("s3://") :].partition("/")
        with tempfile.TemporaryDirectory(prefix="sm-endpoint-") as temp:
            archive = Path(temp) / "model.tar.gz"
            boto3.client("s3", region_name=region).download_file(bucket, key, str(archive))
            with tarfile.open(archive) as tar:
                tar.extractall(Path(temp) / "model", filter="data")
            loaded = mlflow.pyfunc.load_model(str(Path(temp) / "model"))
            if content_type != "application/json":
                raise RuntimeError(f"the stand-in serves application/json, not {content_type}")
            text = body.decode() if isinstance(body, (bytes, bytearray)) else body if isinstance(body, str) else body.read().decode()
            payload = json.loads(text)
            data = scoring_server.infer_and_parse_data(payload, loaded.metadata.get_input_schema())
            out = io.StringIO()
            scoring_server.predictions_to_json(loaded.predict(data, params=payload.get("params")), out)
        response = {"Body": out.getvalue(), "ContentType": "application/json", "InvokedProductionVariant": config["ProductionVariants"][0]["VariantName"]}
        queued = requests.post(
            f"{endpoint()}/moto-api/static/sagemaker/endpoint-results",
            json={"account_id": "123456789012", "region": region, "results": [response]},
            timeout=30,
        )
        queued.raise_for_status()
        self.invocations.append({"endpoint": endpoint_name, "request": json.loads(text), "response": json.loads(out.getvalue())})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seeding = sub.add_parser("seed")
    seeding.add_argument("--settings", required=True, type=Path)
    seeding.add_argument("--out", required=True, type=Path)
    seeding.add_argument("--tracking-uri", required=True)
    seeding.add_argument("--bucket", required=True)
    seeding.add_argument("--secret-name", required=True)
    seeding.add_argument("--iam-tracking-uri", help="the IAM route's tracking URI (a stack with a SageMaker role has one)")
    args = parser.parse_args(argv)
    if args.command == "seed":
        print(json.dumps(seed(args.settings, args.out, args.tracking_uri, args.bucket, args.secret_name, args.iam_tracking_uri)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
