/**
 * Builds (or finds, when cached) the end-to-end tests' Python environment before the tests run, so that the
 * tests themselves start at once. `npm run test:e2e` runs it first; it prints where the environment is.
 */
import { ensurePythonEnv } from '../test/support/python-env';

const env = ensurePythonEnv((line) => console.log(`python-env: ${line}`));
console.log(`python-env: ${env.dir} (MLflow ${env.mlflowVersion})`);
