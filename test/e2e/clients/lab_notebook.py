"""Runs the lab notebook's code cells in order, in one namespace, as a Jupyter kernel would, against the stand-ins.

usage: python lab_notebook.py --notebook NB --workdir DIR --report OUT.json [--fail-operation OPERATION]

The cells run unchanged from a copy of lab/ (DIR), so the files they write stay out of the repository. IPython lines
(``%pip install -r requirements.txt``) are skipped: this interpreter is the environment built from that very file.
Everything the notebook asks of AWS goes to moto's server (AWS_ENDPOINT_URL); what moto does not do, lab_aws_standin.py
does: after each cell, every training job the cell submitted is run here as SageMaker would run it, and each
InvokeEndpoint is answered with the predictions of the endpoint's model.

``--fail-operation CreateEndpoint`` makes that AWS operation fail, from any client, as a failure in AWS would (for
the clean-up tests). The run stops at the first cell that raises, as a person running the notebook would. The report
says which cells ran, the error if one was raised, the training jobs run, the invocations, and the notebook's values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_aws_standin import EndpointStandIn, TrainingJobStandIn  # noqa: E402

#: Values of the notebook reported back to the test.
REPORTED = [
    "TRAINING_JOB_NAME", "RUN_ID", "MODEL_VERSION", "MODEL_URI", "ENDPOINT_NAME", "IMAGE_URL", "role", "training_image",
    "raw_predictions", "response", "comparison", "leftovers", "LAB_PREFIX", "EXPERIMENT_NAME", "REGISTERED_MODEL_NAME",
]


def install_aws_hooks(fail_operation: str | None, endpoint: EndpointStandIn, calls: list[str]) -> None:
    """Every botocore client of this process, whichever session made it (the notebook's, MLflow's, the SDK's)."""
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        calls.append(f"{service}:{operation_name}")
        if service == "iam":
            # The execution role the CDK app creates may call no IAM action (iam:PassRole is not a call); moto would
            # answer IAM calls for any caller. (SDK v3 validates the role with iam:SimulatePrincipalPolicy and
            # iam:GetRole, and goes on, with a warning, when they are denied.)
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": f"stand-in: the lab's execution role may not call iam:{operation_name}"}},
                operation_name,
            )
        if operation_name == fail_operation:
            raise ClientError(
                {"Error": {"Code": "ResourceLimitExceeded", "Message": f"stand-in: {operation_name} fails as the test asked"}},
                operation_name,
            )
        if operation_name == "InvokeEndpoint":
            endpoint.before_invoke(api_params["EndpointName"], api_params["Body"], api_params.get("ContentType", ""))
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = make_api_call


def jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        try:
            return value.to_dict(orient="list")
        except TypeError:
            return value.to_dict()
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--report", required=True, type=Path)
    parser.add_argument("--fail-operation")
    args = parser.parse_args(argv)

    os.chdir(args.workdir)
    sys.path.insert(0, str(args.workdir))
    notebook = json.loads(args.notebook.read_text(encoding="utf-8"))
    logs = args.workdir / "job-logs"
    logs.mkdir(exist_ok=True)
    training = TrainingJobStandIn(str(Path(sys.executable).parent), logs)
    endpoint = EndpointStandIn()
    calls: list[str] = []
    install_aws_hooks(args.fail_operation, endpoint, calls)

    namespace: dict[str, Any] = {"__name__": "__main__"}
    report: dict[str, Any] = {"cells_run": [], "skipped_magics": [], "error": None}
    code_cells = [(index, cell) for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]
    for index, cell in code_cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = []
        for line in source.split("\n"):
            if line.lstrip().startswith(("%", "!")):
                report["skipped_magics"].append(line.strip())
                lines.append("")
            else:
                lines.append(line)
        print(f"--- cell {index} ({cell.get('id')})", flush=True)
        try:
            exec(compile("\n".join(lines), f"<notebook cell {index}>", "exec"), namespace)
            report["cells_run"].append(index)
            training.run_new_jobs()
        except BaseException as error:  # a failed cell ends the run, as it would for a person
            report["error"] = {
                "cell": index,
                "type": error.__class__.__name__,
                "message": str(error),
                "traceback": traceback.format_exc()[-6000:],
            }
            break
    report["code_cells"] = [index for index, _ in code_cells]
    report["training_jobs"] = training.runs
    report["invocations"] = endpoint.invocations
    report["aws_calls"] = calls
    report["values"] = {name: jsonable(namespace[name]) for name in REPORTED if name in namespace}
    if "lab" in namespace:  # the notebook's connection: where MLflow was found, and the link it prints for people
        report["values"].update(tracking_uri=namespace["lab"].tracking_uri, ui_uri=namespace["lab"].ui_uri)
    args.report.write_text(json.dumps(report, default=str, indent=1))
    print(f"--- report: {args.report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
