"""What a deployment of the original sample holds, made and read back through the MLflow client of either version.

    python migration_inventory.py fill    creates, through the client of the environment it runs in (MLflow 2.14.2, the
                                          original sample's), experiments, runs with params, metric histories and
                                          tags, artifacts in S3, and a registered model with two versions (one moved
                                          to a stage, one with an alias); prints the ids it made as JSON
    python migration_inventory.py dump    reads everything back through the client of the environment it runs in,
                                          artifacts downloaded through their artifact URIs, and prints one JSON
                                          document that is the same for two servers holding the same data
    python migration_inventory.py write   after the move: a new run in an old experiment, a metric on an old run,
                                          an artifact, a third version of the old model; prints what it made
    python migration_inventory.py accents before the move (MLflow 2.14.2): Latin-1 text, which the sample's latin1
                                          schema stores: an experiment, a run, its param and tag, a registered model
    python migration_inventory.py unicode after the move: text outside Latin-1 (CJK, Greek, emoji) in an experiment,
                                          a run's name, params and tags, a registered model, a version and a trace;
                                          reads each back and counts what searches by the accented and the new text
                                          find; prints both
    python migration_inventory.py foreign-keys   the foreign keys MLflow's models declare, for a comparison with the
                                          schema's after its conversion

Only fields both MLflow 2.14 and 3.x have are dumped (MLflow 3 adds logged models, datasets on metrics and the like).
Environment: MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_USERNAME / _PASSWORD behind the proxy), the S3 stand-in's
MLFLOW_S3_ENDPOINT_URL and AWS credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.tracking import MlflowClient

EXPERIMENTS = ("sample-churn", "sample-forecast", "sample-retired")
MODEL = "sample-churn-model"
PREFIX = "sample-"


class AddConstant(mlflow.pyfunc.PythonModel):
    """A model whose prediction shows it is the one that was logged: input + 40 + the version's offset."""

    def __init__(self, offset):
        self.offset = offset

    def predict(self, context, model_input, params=None):
        return [value + 40 + self.offset for value in model_input["x"]]


def fill() -> dict:
    client = MlflowClient()
    made: dict = {"experiments": {}, "runs": {}}
    churn = client.create_experiment(EXPERIMENTS[0], tags={"team": "risk", "purpose": "churn model"})
    forecast = client.create_experiment(EXPERIMENTS[1])
    retired = client.create_experiment(EXPERIMENTS[2], tags={"team": "old"})
    made["experiments"] = {EXPERIMENTS[0]: churn, EXPERIMENTS[1]: forecast, EXPERIMENTS[2]: retired}

    for index, (experiment_id, name) in enumerate([(churn, "baseline"), (churn, "tuned"), (forecast, "weekly")]):
        with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
            run_id = run.info.run_id
            mlflow.log_params({"learning_rate": 0.1 / (index + 1), "max_depth": 3 + index, "features": "age,tenure,plan"})
            mlflow.set_tags({"stage": "experiment", "owner": f"analyst-{index}", "mlflow.note.content": f"run {name}"})
            # A metric history: values at steps with their own timestamps, a repeated step, negative and tiny values.
            base = 1_700_000_000_000 + index * 1_000_000
            client.log_batch(run_id, metrics=[
                Metric("loss", 1.0 / (step + 1) + index, base + step * 1000, step) for step in range(25)
            ] + [Metric("loss", 0.5, base + 30_000, 24), Metric("delta", -1e-9 * (index + 1), base, 0)])
            mlflow.log_metric("accuracy", 0.8 + index / 100)
            mlflow.log_text(f"notes of {name}\n", "notes.txt")
            mlflow.log_dict({"name": name, "thresholds": [0.1, 0.5, 0.9]}, "config/settings.json")
            with tempfile.TemporaryDirectory() as tmp:
                blob = Path(tmp) / "weights.bin"
                blob.write_bytes(hashlib.sha256(name.encode()).digest() * 4096)
                mlflow.log_artifact(str(blob), "binaries")
            if name != "weekly":
                mlflow.pyfunc.log_model("model", python_model=AddConstant(index))
            made["runs"][name] = run_id

    # A child run, a run that failed, a deleted run and a deleted experiment: their states must survive as well.
    with mlflow.start_run(experiment_id=churn, run_name="tuned-fold-1", tags={"mlflow.parentRunId": made["runs"]["tuned"]}) as child:
        mlflow.log_metric("loss", 0.42, step=1)
        made["runs"]["tuned-fold-1"] = child.info.run_id
    failed = client.create_run(forecast, run_name="crashed")
    client.log_param(failed.info.run_id, "horizon", "14")
    client.set_terminated(failed.info.run_id, status="FAILED")
    made["runs"]["crashed"] = failed.info.run_id
    deleted = client.create_run(forecast, run_name="mistake")
    client.delete_run(deleted.info.run_id)
    made["runs"]["mistake"] = deleted.info.run_id
    client.delete_experiment(retired)

    client.create_registered_model(MODEL, tags={"domain": "churn"}, description="Churn classifier")
    first = mlflow.register_model(f"runs:/{made['runs']['baseline']}/model", MODEL)
    second = mlflow.register_model(f"runs:/{made['runs']['tuned']}/model", MODEL)
    client.transition_model_version_stage(MODEL, first.version, "Production")
    client.set_registered_model_alias(MODEL, "champion", second.version)
    client.set_model_version_tag(MODEL, second.version, "validated", "yes")
    client.update_model_version(MODEL, second.version, description="tuned on the March data")
    made["model_versions"] = [first.version, second.version]
    return made


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list:
    """Every file under the run's artifact root, with its size and the hash of what downloading it gives."""
    found = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.extend(artifacts(client, run_id, item.path))
        else:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=item.path))
            found.append({"path": item.path, "size": item.file_size, "sha256": sha256(local)})
    return sorted(found, key=lambda a: a["path"])


def dump() -> dict:
    client = MlflowClient()
    experiments = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name.startswith(PREFIX)]
    out: dict = {"experiments": [], "runs": [], "registered_models": [], "model_versions": []}
    for experiment in sorted(experiments, key=lambda e: e.name):
        out["experiments"].append({
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "tags": dict(sorted(experiment.tags.items())),
            "creation_time": experiment.creation_time,
        })
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
            info = run.info
            history = {
                key: sorted(([m.step, m.timestamp, m.value] for m in client.get_metric_history(info.run_id, key)))
                for key in sorted(run.data.metrics)
            }
            out["runs"].append({
                "run_id": info.run_id,
                "experiment_id": info.experiment_id,
                "run_name": info.run_name,
                "status": info.status,
                "lifecycle_stage": info.lifecycle_stage,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "user_id": info.user_id,
                "artifact_uri": info.artifact_uri,
                "params": dict(sorted(run.data.params.items())),
                "tags": dict(sorted(run.data.tags.items())),
                "latest_metrics": dict(sorted(run.data.metrics.items())),
                "metric_history": history,
                "artifacts": artifacts(client, info.run_id),
            })
    out["runs"].sort(key=lambda r: (r["experiment_id"], r["run_name"]))
    for model in client.search_registered_models():
        if not model.name.startswith(PREFIX):
            continue
        out["registered_models"].append({
            "name": model.name,
            "description": model.description,
            "tags": dict(sorted(model.tags.items())),
            "aliases": dict(sorted(model.aliases.items())),
            "creation_timestamp": model.creation_timestamp,
        })
        for found in client.search_model_versions(f"name='{model.name}'"):
            # Search results leave the aliases out; get_model_version has them.
            version = client.get_model_version(model.name, found.version)
            out["model_versions"].append({
                "name": version.name,
                "version": version.version,
                "current_stage": version.current_stage,
                "source": version.source,
                "run_id": version.run_id,
                "status": version.status,
                "description": version.description,
                "tags": dict(sorted(version.tags.items())),
                "aliases": sorted(version.aliases),
                "creation_timestamp": version.creation_timestamp,
            })
    out["model_versions"].sort(key=lambda v: (v["name"], int(v["version"])))
    # The registered models themselves, loaded through the registry and their S3 sources.
    out["predictions"] = {
        uri: [float(v) for v in mlflow.pyfunc.load_model(uri).predict({"x": [1.0, 2.0]})]
        for uri in (f"models:/{MODEL}/1", f"models:/{MODEL}@champion")
    }
    return out


def write() -> dict:
    """MLflow keeps working on the moved data: new rows next to the old ones, in the old experiments and model."""
    client = MlflowClient()
    churn = client.get_experiment_by_name(EXPERIMENTS[0])
    baseline = next(r for r in client.search_runs([churn.experiment_id]) if r.info.run_name == "baseline")
    client.log_metric(baseline.info.run_id, "loss", 0.01, step=99)
    with mlflow.start_run(experiment_id=churn.experiment_id, run_name="after-the-move") as run:
        mlflow.log_param("learning_rate", 0.01)
        mlflow.log_metric("accuracy", 0.91)
        mlflow.log_text("logged after the move\n", "notes.txt")
        mlflow.pyfunc.log_model("model", python_model=AddConstant(10))
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL)
    client.set_registered_model_alias(MODEL, "challenger", version.version)
    return {
        "run_id": run.info.run_id,
        "artifact_uri": run.info.artifact_uri,
        "version": version.version,
        "artifacts": artifacts(client, run.info.run_id),
        "challenger_prediction": [float(v) for v in mlflow.pyfunc.load_model(f"models:/{MODEL}@challenger").predict({"x": [1.0]})],
        "baseline_loss_history": sorted([m.step, m.value] for m in client.get_metric_history(baseline.info.run_id, "loss"))[-2:],
    }


# Latin-1 text that MLflow 2.14.2 wrote on the latin1 schema (accents), and text outside Latin-1 written after the move.
ACCENTED = {
    "experiment": "sample-Café Zürich", "run": "run-crème brûlée", "param": ("ville", "Zürich"),
    "tag": ("note", "déjà vu"), "model": "sample-modèle-café",
}
UNICODE = {
    "experiment": "実験 🚀 Ελληνικά", "run": "ラン 🚀 café", "param": ("言語", "日本語 🚀"), "tag": ("絵文字", "🚀✨ Ελληνικά"),
    "model": "モデル-🚀", "description": "説明 🚀", "question": "日本語の質問は？ 🚀",
}


def accents() -> dict:
    client = MlflowClient()
    experiment_id = client.create_experiment(ACCENTED["experiment"], tags={"lieu": "Zürich"})
    run = client.create_run(experiment_id, run_name=ACCENTED["run"])
    client.log_param(run.info.run_id, *ACCENTED["param"])
    client.set_tag(run.info.run_id, *ACCENTED["tag"])
    client.set_terminated(run.info.run_id)
    client.create_registered_model(ACCENTED["model"], description="modèle de référence")
    version = client.create_model_version(ACCENTED["model"], f"{run.info.artifact_uri}/model", run.info.run_id,
                                          description="première version")
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "version": version.version}


def unicode() -> dict:
    """Writes, reads back, searches. A refused write is recorded under "refused" (its error), and what depends on it is
    skipped; the trace goes first, into an experiment of its own: the client does not raise when the server refuses it
    (it logs a warning), so it is read back by id."""
    client = MlflowClient()
    refused = {}

    def attempt(what, write):
        try:
            return write()
        except Exception as error:
            refused[what] = str(error).splitlines()[0][:200]
            return None

    mlflow.set_experiment("sample-traces-after-the-move")

    @mlflow.trace(name="回答 🚀")
    def answer(question):
        return f"答え: {question} ✨"

    answer(UNICODE["question"])
    mlflow.flush_trace_async_logging()
    trace_id = mlflow.get_last_active_trace_id()
    try:
        trace = client.get_trace(trace_id)
        span = trace.data.spans[0]
        stored_trace = {"name": span.name, "inputs": span.inputs, "outputs": span.outputs,
                        "request_preview": trace.info.request_preview, "response_preview": trace.info.response_preview}
    except Exception as error:  # the trace was never stored: the client only logged a warning
        refused["trace"] = str(error).splitlines()[0][:200]
        stored_trace = None
    traces_experiment = client.get_experiment_by_name("sample-traces-after-the-move").experiment_id

    experiment_id = attempt("experiment", lambda: client.create_experiment(UNICODE["experiment"], tags={"説明": UNICODE["description"]}))
    run = client.create_run(experiment_id or traces_experiment)
    attempt("run name", lambda: client.update_run(run.info.run_id, name=UNICODE["run"]))
    attempt("param", lambda: client.log_param(run.info.run_id, *UNICODE["param"]))
    attempt("tag", lambda: client.set_tag(run.info.run_id, *UNICODE["tag"]))
    attempt("metric", lambda: client.log_metric(run.info.run_id, "スコア", 0.5))
    client.set_terminated(run.info.run_id)
    model = attempt("model", lambda: client.create_registered_model(UNICODE["model"], tags={"タグ": "値 🚀"}, description=UNICODE["description"]))
    version = model and attempt("version", lambda: client.create_model_version(
        UNICODE["model"], f"{run.info.artifact_uri}/model", run.info.run_id, tags={"タグ": "値 🚀"}, description=UNICODE["description"]))
    if refused:
        return {"refused": refused, "trace": stored_trace}

    read = client.get_run(run.info.run_id)
    experiment = client.get_experiment(experiment_id)
    model = client.get_registered_model(UNICODE["model"])
    got_version = client.get_model_version(UNICODE["model"], version.version)
    def count(found):
        return len(list(found))

    accented_experiment = client.get_experiment_by_name(ACCENTED["experiment"]).experiment_id
    searches = {
        "experiment accented": count(client.search_experiments(filter_string=f"name = '{ACCENTED['experiment']}'")),
        "experiment unicode": count(client.search_experiments(filter_string=f"name = '{UNICODE['experiment']}'")),
        "run name accented": count(client.search_runs([accented_experiment], f"attributes.run_name = '{ACCENTED['run']}'")),
        "param accented": count(client.search_runs([accented_experiment], "params.{} = '{}'".format(*ACCENTED["param"]))),
        "tag accented": count(client.search_runs([accented_experiment], "tags.{} = '{}'".format(*ACCENTED["tag"]))),
        "run name unicode": count(client.search_runs([experiment_id], f"attributes.run_name = '{UNICODE['run']}'")),
        "param unicode": count(client.search_runs([experiment_id], "params.`{}` = '{}'".format(*UNICODE["param"]))),
        "tag unicode": count(client.search_runs([experiment_id], "tags.`{}` = '{}'".format(*UNICODE["tag"]))),
        "model accented": count(client.search_registered_models(f"name = '{ACCENTED['model']}'")),
        "versions accented": count(client.search_model_versions(f"name = '{ACCENTED['model']}'")),
        "model unicode": count(client.search_registered_models(f"name = '{UNICODE['model']}'")),
        "versions unicode": count(client.search_model_versions(f"name = '{UNICODE['model']}'")),
        "traces unicode": count(client.search_traces(experiment_ids=[traces_experiment])),
    }
    return {
        "refused": refused,
        "experiment": {"name": experiment.name, "tags": experiment.tags},
        "run": {"name": read.info.run_name, "params": read.data.params,
                "tags": {k: v for k, v in read.data.tags.items() if not k.startswith("mlflow.")},
                "metrics": read.data.metrics},
        "model": {"name": model.name, "description": model.description, "tags": model.tags},
        "version": {"description": got_version.description, "tags": got_version.tags},
        "trace": stored_trace,
        "searches": searches,
    }


def foreign_keys() -> list:
    """The foreign keys MLflow's models declare (what its migrations create), one line each, as the test reads them from
    information_schema: "table columns -> table columns ON DELETE rule ON UPDATE rule" (no rule given: NO ACTION)."""
    import importlib
    import pkgutil

    import mlflow.store
    from mlflow.store.db.base_sql_model import Base

    for module in pkgutil.walk_packages(mlflow.store.__path__, "mlflow.store."):
        if ".dbmodels." in module.name:
            importlib.import_module(module.name)
    lines = set()
    for table in Base.metadata.tables.values():
        for key in table.foreign_key_constraints:
            lines.add(" ".join([
                table.name, ",".join(c.name for c in key.columns), "->", key.referred_table.name,
                ",".join(e.column.name for e in key.elements),
                "ON DELETE", (key.ondelete or "NO ACTION").upper(), "ON UPDATE", (key.onupdate or "NO ACTION").upper(),
            ]))
    return sorted(lines)


def main(argv: list[str]) -> None:
    commands = {"fill": fill, "dump": dump, "write": write, "accents": accents, "unicode": unicode, "foreign-keys": foreign_keys}
    if len(argv) != 1 or argv[0] not in commands:
        raise SystemExit("usage: migration_inventory.py fill|dump|write|accents|unicode|foreign-keys")
    print(json.dumps(commands[argv[0]](), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
