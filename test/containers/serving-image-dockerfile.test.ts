/**
 * containers/mlflow-pyfunc/Dockerfile, the serving image servingImage=true builds in CodeBuild, is the Dockerfile that
 * `mlflow sagemaker build-and-push-container` generates for the platform's MLflow release, with only its base image
 * moved to Amazon ECR Public and the MLflow release turned into the build argument MLFLOW_VERSION.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVING_IMAGE_DIR } from '../../src/lib/sagemaker/serving-image';
import { ensurePythonEnv } from '../support/python-env';

const GENERATOR = join(SERVING_IMAGE_DIR, 'generate_dockerfile.py');
const dockerfile = readFileSync(join(SERVING_IMAGE_DIR, 'Dockerfile'), 'utf8');

describe('the serving image Dockerfile', () => {
  it('is what MLflow\'s own build-and-push-container generates for the platform\'s release (generate_dockerfile.py --check)', () => {
    const python = ensurePythonEnv();
    const run = spawnSync(python.python, [GENERATOR, '--check'], { encoding: 'utf8', cwd: SERVING_IMAGE_DIR, timeout: 120_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}\n(after an MLflow upgrade: ${python.python} ${GENERATOR})`);
    assert.match(run.stderr, new RegExp(`is MLflow ${python.mlflowVersion.replace(/\./g, '\\.')}'s`));
  });

  it('differs from MLflow\'s in the base image\'s registry and the MLflow build argument only', () => {
    assert.deepEqual(dockerfile.split('\n').filter((line) => line.startsWith('FROM ')), ['FROM public.ecr.aws/docker/library/ubuntu:24.04']);
    assert.match(dockerfile, /^ARG MLFLOW_VERSION\nRUN pip install mlflow==\$\{MLFLOW_VERSION\}$/m);
    assert.doesNotMatch(dockerfile, /mlflow==\d/, 'no literal MLflow release');
    assert.match(dockerfile, /^ENTRYPOINT \["python", "-c", "import sys; from mlflow\.models import container as C; C\._init\(sys\.argv\[1\], 'virtualenv'\)"\]$/m);
  });

  it('the check fails on a Dockerfile that is not MLflow\'s (the check can fail)', () => {
    const python = ensurePythonEnv();
    const script = `import sys, runpy; sys.argv = ["g", "--check"]; m = runpy.run_path(${JSON.stringify(GENERATOR)}, run_name="lib"); `
      + 'm["DOCKERFILE"].__class__; import pathlib; '
      + 'mod = m; orig = mod["for_codebuild"]; '
      + 'mod["main"].__globals__["for_codebuild"] = lambda d, v: orig(d, v).replace("openjdk-11", "openjdk-17"); '
      + 'sys.exit(mod["main"](["--check"]))';
    const run = spawnSync(python.python, ['-c', script], { encoding: 'utf8', cwd: SERVING_IMAGE_DIR, timeout: 120_000 });
    assert.equal(run.status, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /is not what MLflow .* generates/);
  });
});
