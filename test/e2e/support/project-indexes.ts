/** The project's indexes on MLflow's tables, as containers/mlflow/mlflow_indexes.py declares them (its `list`). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../support/python-env';

export interface ProjectIndex {
  readonly name: string;
  readonly table: string;
  readonly columns: string;
}

export function projectIndexes(python = 'python3'): ProjectIndex[] {
  const listed = spawnSync(python, [join(REPO_ROOT, 'containers', 'mlflow', 'mlflow_indexes.py'), 'list'], { encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`mlflow_indexes.py list failed:\n${listed.stderr}`);
  return JSON.parse(listed.stdout) as ProjectIndex[];
}
