"""Writes the scale benchmark's template data with MLflow's own client, through the proxy (MLFLOW_TRACKING_URI and
credentials in the environment): what the benchmark's bulk SQL then copies, so that every seeded row has the shape
MLflow itself writes.

    python scale-template.py <experiment name> <run count>

Creates the experiment, RUN_COUNT runs each with 20 params, 10 metrics of 100 steps and a few user tags (plus the
client's own mlflow.* tags), a registered model with one version from the first run, and one GenAI trace in the
experiment. Prints one JSON line: the ids.
"""

import json
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

experiment_name, run_count = sys.argv[1], int(sys.argv[2])
client = MlflowClient()
experiment_id = client.create_experiment(experiment_name)
mlflow.set_experiment(experiment_id=experiment_id)

runs = []
for index in range(run_count):
    with mlflow.start_run(run_name=f"template-{index}") as run:
        run_id = run.info.run_id
        params = [Param(f"param_{p:02d}", str(p * 10 + index)) for p in range(20)]
        tags = [RunTag("team", "vision"), RunTag("stage", "tuning"), RunTag("dataset", "imagenet-1k")]
        client.log_batch(run_id, params=params, tags=tags)
        for step in range(0, 100, 10):
            metrics = [Metric(f"metric_{m}", 1.0 / (step + m + 1), 1_700_000_000_000 + step, s)
                       for m in range(10) for s in range(step, step + 10)]
            client.log_batch(run_id, metrics=metrics)
        runs.append(run_id)

model = client.create_registered_model("scale-template-model", tags={"team": "vision"}, description="template")
version = client.create_model_version(model.name, f"runs:/{runs[0]}/model", run_id=runs[0], tags={"validated": "true"})


@mlflow.trace(name="answer")
def answer(question):
    with mlflow.start_span(name="retrieve") as span:
        span.set_inputs({"question": question})
        span.set_outputs({"documents": ["a", "b"]})
    return "42"


answer("what is the answer?")
trace_id = mlflow.get_last_active_trace_id()
mlflow.flush_trace_async_logging() if hasattr(mlflow, "flush_trace_async_logging") else None
print(json.dumps({"experiment_id": experiment_id, "run_ids": runs, "model": model.name, "version": version.version, "trace_id": trace_id}))
