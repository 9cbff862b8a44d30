/**
 * The notebook says what runs it, and runs where it says: its kernelspec is the "MLflow lab" kernel that the lifecycle
 * scripts of the notebook instance and Studio register (src/lib/sagemaker/notebook-instance.ts), its text and
 * docs/guides/lab.md name that kernel and no other, and its training image is one the pinned SDK knows, with a scikit-learn
 * inside the range the pinned MLflow supports, whose package set the model-environment test trains in.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../scripts/generate-lab-settings';
import { LAB_KERNEL_DISPLAY_NAME, LAB_KERNEL_NAME } from '../../src/lib/sagemaker/notebook-instance';
import { ensureLabPythonEnv } from '../support/python-env';
import { NOTEBOOK_PATH } from './lab-tools';

interface Notebook { metadata: { kernelspec: { name: string; display_name: string; language: string } }; cells: Array<{ cell_type: string; source: string[] | string }> }

const notebook = JSON.parse(readFileSync(NOTEBOOK_PATH, 'utf8')) as Notebook;
const text = (cell: Notebook['cells'][number]) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);
const markdown = notebook.cells.filter((cell) => cell.cell_type === 'markdown').map(text).join('\n');
const code = notebook.cells.filter((cell) => cell.cell_type === 'code').map(text).join('\n');
const docs = readFileSync(join(REPO_ROOT, 'docs', 'guides', 'lab.md'), 'utf8');

/** Text that tells the reader to run the lab in a shared kernel, which has neither the pins nor the SigV4 provider. */
export const OTHER_KERNELS = /conda_python3` kernel|Python 3 kernel|Python 3 \(ipykernel\)|kernel `?python3`?\b/;

/** SKLEARN_FRAMEWORK_VERSION = "..." in the notebook's code. */
export function notebookImageVersion(source: string = code): string {
  const version = /^SKLEARN_FRAMEWORK_VERSION = "([^"]+)"/m.exec(source)?.[1];
  if (!version) throw new Error('the notebook sets no SKLEARN_FRAMEWORK_VERSION');
  return version;
}

describe('the notebook\'s kernel is the MLflow lab kernel the platform sets up', () => {
  it('its kernelspec is the lifecycle scripts\' kernel (name and display name), not python3 or conda_python3', () => {
    assert.deepEqual(notebook.metadata.kernelspec, { display_name: LAB_KERNEL_DISPLAY_NAME, language: 'python', name: LAB_KERNEL_NAME });
  });

  it('its text and docs/guides/lab.md name that kernel, and send nobody to a shared kernel', () => {
    assert.ok(markdown.includes(`**${LAB_KERNEL_DISPLAY_NAME}** kernel`), 'the notebook names the MLflow lab kernel');
    assert.ok(docs.includes(`**${LAB_KERNEL_DISPLAY_NAME}** (\`${LAB_KERNEL_NAME}\`)`), 'docs/guides/lab.md names the kernel and its name');
    assert.doesNotMatch(markdown, OTHER_KERNELS);
    assert.doesNotMatch(docs, OTHER_KERNELS);
  });

  it('the check can fail: the old text is caught', () => {
    assert.match('It runs on SageMaker Studio (JupyterLab, Python 3 kernel) and on the notebook instance (`conda_python3` kernel).', OTHER_KERNELS);
    assert.doesNotMatch(`Open it with the **${LAB_KERNEL_DISPLAY_NAME}** kernel`, OTHER_KERNELS);
  });
});

describe('the training image', () => {
  const version = notebookImageVersion();
  const packages = join(REPO_ROOT, 'test', 'e2e', 'training-images', `sklearn-${version}.txt`);

  it('has its package set recorded for the model-environment test (test/e2e/training-images)', () => {
    assert.ok(existsSync(packages), `${packages} is missing: record the image's packages (see sklearn-1.9-0.txt's header)`);
  });

  it('is known to the pinned SageMaker SDK, and its scikit-learn is inside the pinned MLflow\'s supported range', () => {
    const sklearn = /^scikit-learn==(\S+)$/m.exec(readFileSync(packages, 'utf8'))?.[1];
    assert.ok(sklearn, 'the image\'s scikit-learn version');
    const lab = ensureLabPythonEnv();
    const probe = spawnSync(lab.python, ['-c', [
      'import json, sys',
      'from mlflow.ml_package_versions import _ML_PACKAGE_VERSIONS',
      'from sagemaker.core import image_uris',
      `uri = image_uris.retrieve(framework="sklearn", region="us-west-2", version=${JSON.stringify(version)}, image_scope="training")`,
      'print(json.dumps({"uri": uri, "range": _ML_PACKAGE_VERSIONS["sklearn"]["models"]}))',
    ].join('\n')], { encoding: 'utf8', env: { PATH: `${lab.bin}:/usr/bin:/bin`, HOME: '/tmp', AWS_EC2_METADATA_DISABLED: 'true' } });
    assert.equal(probe.status, 0, probe.stderr);
    const { uri, range } = JSON.parse(probe.stdout.trim().split('\n').pop()!) as { uri: string; range: { minimum: string; maximum: string } };
    assert.equal(uri, `246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:${version}-cpu-py3`);
    const parts = (v: string) => v.split('.').map(Number);
    const compare = (a: string, b: string) => parts(a).reduce((acc, n, i) => acc || n - (parts(b)[i] ?? 0), 0);
    assert.ok(compare(sklearn!, range.minimum) >= 0 && compare(sklearn!, range.maximum) <= 0, `scikit-learn ${sklearn} is outside MLflow's ${range.minimum}..${range.maximum}`);
  });
});
