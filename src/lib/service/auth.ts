/**
 * The access vocabulary of `MlflowService` (no aws-cdk-lib import: the app's configuration and the CLI read it).
 */

/** Access modes: one shared account checked by the proxy, or MLflow's authentication app with personal accounts. */
export const AUTH_MODES = ['shared', 'users'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** MLflow's permissions (its authentication app), also what a user has on what nobody granted them. */
export const MLFLOW_PERMISSIONS = ['READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS'] as const;
export type MlflowPermission = (typeof MLFLOW_PERMISSIONS)[number];

/** An MLflow user name the containers accept (containers/mlflow/mlflow_auth.py USERNAME). */
export const MLFLOW_USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
