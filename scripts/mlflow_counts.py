"""Counts what an MLflow tracking server holds, in the words of `npx mlflow-on-aws status --counts`, so that the two
can be compared when moving a deployment (docs/guides/migrate-from-sample.md): run it against the old server before the
move, and compare with `status --counts` on the new one.

    MLFLOW_TRACKING_URI=https://<old api>.execute-api.<region>.amazonaws.com \\
    MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=... python3 scripts/mlflow_counts.py

Needs only the MLflow client (2.x or 3.x). Prints one line, e.g.
"4 experiments (1 deleted), 6 runs (1 deleted), 1 registered model with 2 versions".
"""

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

EXPERIMENTS_PER_RUN_SEARCH = 100


def every_page(search, **kwargs):
    token = None
    while True:
        page = search(page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def counted(count, one, many=None):
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def deleted(count):
    return f" ({count:,} deleted)" if count else ""


def main():
    client = MlflowClient()
    experiments = list(every_page(client.search_experiments, view_type=ViewType.ALL, max_results=1000))
    ids = [e.experiment_id for e in experiments]
    runs = []
    for i in range(0, len(ids), EXPERIMENTS_PER_RUN_SEARCH):
        runs.extend(every_page(client.search_runs, experiment_ids=ids[i:i + EXPERIMENTS_PER_RUN_SEARCH],
                               run_view_type=ViewType.ALL, max_results=1000))
    models = list(every_page(client.search_registered_models, max_results=1000))
    versions = list(every_page(client.search_model_versions, max_results=1000))
    deleted_experiments = sum(e.lifecycle_stage == "deleted" for e in experiments)
    deleted_runs = sum(r.info.lifecycle_stage == "deleted" for r in runs)
    print(f"{counted(len(experiments), 'experiment')}{deleted(deleted_experiments)}, "
          f"{counted(len(runs), 'run')}{deleted(deleted_runs)}, "
          f"{counted(len(models), 'registered model')} with {counted(len(versions), 'version')}")


if __name__ == "__main__":
    main()
