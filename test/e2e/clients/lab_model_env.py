"""The SageMaker endpoint's start-up, as MLflow's serving image runs it, for one MLflow model on this machine.

Run with the serving image's Python and MLflow (the e2e environment: MLflow at the platform's release, like the image's
``pip install mlflow==<release>``), inside a private mount namespace in which /opt is the caller's own (the image's
code writes /opt/mlflow and /opt/activate and reads the model from /opt/ml/model, where SageMaker puts it):

    python lab_model_env.py serve --model DIR --port PORT --report FILE

It copies DIR to /opt/ml/model and then does what the image's entry point (``C._init("serve", "virtualenv")``,
containers/mlflow-pyfunc/Dockerfile) does before it answers /ping, with MLflow's own functions:
``mlflow.models.container._install_pyfunc_deps(MODEL_PATH, install_mlflow=True, env_manager="virtualenv")``, which
installs the model's Python with pyenv (``pyenv install --skip-existing <python_env.yaml's version>``), makes a venv
with it, and runs ``python -m pip install -r`` of the model's build dependencies and of its requirements.txt, then
``pip install gunicorn[gevent]`` and ``pip install mlflow==<release>``; then it starts the scoring server in that venv
with MLflow's ``scoring_server.get_cmd`` (``source /opt/activate && uvicorn ... mlflow.pyfunc.scoring_server.app:app``).
Two differences from the image: no nginx in front (the image's nginx only forwards port 8080 to the scoring server)
and the scoring server on PORT instead of 8000, so that parallel tests do not collide.

When /ping answers 200 it posts the model's own serving input example (serving_input_example.json, written by
``log_model(input_example=...)``) to /invocations and writes FILE: the seconds the environment took, the seconds to
the first /ping, the predictions, the model's requirements and Python, and the server's log tail. A failed install
exits non-zero with pip's output in the log (pip refuses e.g. ``typing==3.10.0.0`` on Python 3): that is an endpoint
that never passes its health check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def wait_for_ping(port: int, server: subprocess.Popen, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"the scoring server exited ({server.returncode}) before /ping answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"/ping did not answer 200 within {timeout} s")


def serve(model: Path, port: int, report_path: Path, timeout: float) -> int:
    from mlflow.models import container
    from mlflow.pyfunc import scoring_server

    model_path = Path(container.MODEL_PATH)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model, model_path)

    started = time.monotonic()
    # What _serve_pyfunc runs first when MLFLOW_DISABLE_ENV_CREATION is false (the image's ENV): MLflow's own code.
    container._install_pyfunc_deps(container.MODEL_PATH, install_mlflow=True, env_manager="virtualenv")
    environment_seconds = time.monotonic() - started

    command, command_env = scoring_server.get_cmd(model_uri=container.MODEL_PATH, nworkers=1, port=port)
    server = subprocess.Popen(["/bin/bash", "-c", " && ".join(["source /opt/activate", command])], env=command_env)
    try:
        ping_seconds = wait_for_ping(port, server, timeout)
        example = (model_path / "serving_input_example.json").read_bytes()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=example, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        venv_python = subprocess.run(
            ["/bin/bash", "-c", "source /opt/activate && python -c 'import platform; print(platform.python_version())'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    report = {
        # The venv MLflow made (or found): /opt/activate links to its bin/activate.
        "environment": str(Path(os.path.realpath("/opt/activate")).parent.parent),
        "environment_seconds": round(environment_seconds, 1),
        "ping_seconds": round(ping_seconds, 1),
        "venv_python": venv_python,
        "requirements": (model_path / "requirements.txt").read_text().split(),
        "example": json.loads(example),
        "predictions": answer["predictions"],
    }
    report_path.write_text(json.dumps(report, indent=1))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serving = sub.add_parser("serve")
    serving.add_argument("--model", required=True, type=Path)
    serving.add_argument("--port", required=True, type=int)
    serving.add_argument("--report", required=True, type=Path)
    serving.add_argument("--ping-timeout", type=float, default=120)
    args = parser.parse_args(argv)
    return serve(args.model, args.port, args.report, args.ping_timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
