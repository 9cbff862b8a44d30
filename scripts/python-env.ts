/**
 * Builds (or finds, when cached) the tests' Python environments before the tests run, so that the tests themselves
 * start at once: the end-to-end environment, MLflow 2.14.2's (the migration test's starting point), the previous default MLflow's (the upgrade test's) and the SageMaker
 * lab notebook's kernel (lab/requirements.txt).
 * `npm run test:e2e` runs it first; it prints where the environments are.
 */
import { ensureLabPythonEnv, ensurePreviousMlflowEnv, ensurePythonEnv, ensureSampleMlflowEnv } from '../test/support/python-env';

for (const ensure of [ensurePythonEnv, ensureSampleMlflowEnv, ensurePreviousMlflowEnv, ensureLabPythonEnv]) {
  const env = ensure((line) => console.log(`python-env: ${line}`));
  console.log(`python-env: ${env.dir} (MLflow ${env.mlflowVersion})`);
}
