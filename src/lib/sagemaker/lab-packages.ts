/**
 * The Python packages of the SageMaker lab (lab/) that must be exact: the one place their versions live.
 *
 * - The MLflow client is the server's release (`mlflowVersion` of the platform configuration): a client newer or
 *   older than the server can send requests the server does not understand.
 * - The SageMaker Python SDK is one v3 release (v2 is in maintenance since 2026-07-06 and has no support after
 *   2027-07-06). An exact pin, not a range: a kernel that already has another SDK gets this one from
 *   `%pip install -r requirements.txt`, and the notebook instance's start-up script installs the same one, so the
 *   two never disagree.
 *
 * `npm run lab:settings` writes these pins into lab/requirements.txt (and the MLflow one into
 * lab/training/requirements.txt) and into lab/lab-settings.json; the notebook instance's on-start script installs
 * exactly `labPackagePins(config)`; test/lab/lab-drift.test.ts fails when any of them differs.
 *
 * SigV4 on the IAM route is the lab's own MLflow request-auth provider (lab/training/mlflow-sigv4, botocore's
 * SigV4Auth), installed from its source beside these pins: not a PyPI package, so not a pin.
 */
/**
 * SageMaker Python SDK release of the lab. 3.27.0 was checked against the lab: its `ModelTrainer` and the
 * scikit-learn 1.4-2 training image it knows, installed beside mlflow==3.17.2 with `pip check` clean, and the
 * notebook's SDK calls run against the end-to-end suite's stand-in (test/e2e/sagemaker-lab.test.ts).
 */
export const SAGEMAKER_SDK_VERSION = '3.27.0';

/** The packages the lab pins, by their PyPI names, each to an exact release. */
export interface LabPackagePins {
  readonly mlflow: string;
  readonly sagemaker: string;
}

export function labPackagePins(config: { readonly mlflowVersion: string }): LabPackagePins {
  return { mlflow: config.mlflowVersion, sagemaker: SAGEMAKER_SDK_VERSION };
}

/** `name==version` requirement specifiers of the pins, in a stable order. */
export function pinnedRequirements(pins: LabPackagePins): string[] {
  return (Object.keys(pins) as Array<keyof LabPackagePins>).sort().map((name) => `${name}==${pins[name]}`);
}
