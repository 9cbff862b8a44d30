/**
 * Static checks of the container build files: shellcheck on every shell script, pinned base images
 * from Amazon ECR Public, and the MLflow version default kept in step with the CDK configuration.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/app/config/platform-config';
import { litestreamVersion } from '../support/litestream';
import { REPO_ROOT, requireProgram } from './support/proxy';

const CONTAINERS = join(REPO_ROOT, 'containers');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function isShellScript(path: string): boolean {
  if (path.endsWith('.sh')) return true;
  const firstLine = readFileSync(path, 'utf8').split('\n', 1)[0];
  return /^#!\s*\/(usr\/)?bin\/(env\s+)?(ba|da)?sh\b/.test(firstLine);
}

/** FROM lines of a Dockerfile (image references only). */
function baseImages(dockerfile: string): string[] {
  return readFileSync(dockerfile, 'utf8')
    .split('\n')
    .filter((line) => /^FROM\s/i.test(line))
    .map((line) => line.split(/\s+/)[1]);
}

describe('container files', () => {
  it('every shell script is shellcheck-clean', () => {
    requireProgram('shellcheck', "Debian package 'shellcheck'");
    const scripts = [...filesUnder(CONTAINERS), ...filesUnder(join(REPO_ROOT, 'test', 'containers', 'fixtures'))].filter(isShellScript);
    assert.ok(scripts.length >= 2, `expected the two entrypoints, found ${scripts.map((s) => relative(REPO_ROOT, s)).join(', ')}`);
    const result = spawnSync('shellcheck', ['--severity=style', '--shell=sh', ...scripts], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('entrypoints are executable POSIX sh scripts', () => {
    for (const script of ['nginx/entrypoint.sh', 'mlflow/entrypoint.sh']) {
      const path = join(CONTAINERS, script);
      assert.match(readFileSync(path, 'utf8'), /^#!\/bin\/sh\n/);
      assert.ok((statSync(path).mode & 0o111) !== 0, `${script} is not executable`);
    }
  });

  it('base images come from Amazon ECR Public, pinned to an exact version tag', () => {
    assert.deepEqual(baseImages(join(CONTAINERS, 'nginx', 'Dockerfile')).map((i) => i.replace(/:\d+\.\d+\.\d+-perl$/, ':<version>-perl')), [
      'public.ecr.aws/nginx/nginx:<version>-perl',
    ]);
    // Litestream's build stage, then the image itself.
    const [golang, python, ...others] = baseImages(join(CONTAINERS, 'mlflow', 'Dockerfile'));
    assert.match(golang, /^public\.ecr\.aws\/docker\/library\/golang:1\.\d+\.\d+-(bookworm|trixie)$/);
    assert.match(python, /^public\.ecr\.aws\/docker\/library\/python:3\.\d+\.\d+-slim-(bookworm|trixie)$/);
    assert.deepEqual(others, []);
  });

  it("the MLflow image's default version is the CDK configuration's default", () => {
    const dockerfile = readFileSync(join(CONTAINERS, 'mlflow', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`^ARG MLFLOW_VERSION=${DEFAULT_CONFIG.mlflowVersion.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(dockerfile, /^RUN pip install -r \/opt\/mlflow-server\/requirements\.txt/m);
    const requirements = readFileSync(join(CONTAINERS, 'mlflow', 'requirements.txt'), 'utf8');
    assert.match(requirements, /^mlflow\[auth\]==\$\{MLFLOW_VERSION\}$/m, 'the image installs exactly the configured MLflow release, with its auth app');
    assert.match(dockerfile, /^USER 10001:10001$/m, 'MLflow runs as a non-root user');
  });

  it('Litestream is built from its Go module at the one declared version, statically, into the image', () => {
    const dockerfile = readFileSync(join(CONTAINERS, 'mlflow', 'Dockerfile'), 'utf8');
    assert.equal(litestreamVersion(), '0.5.18');
    assert.equal([...dockerfile.matchAll(/LITESTREAM_VERSION=/g)].length, 1, 'declared once');
    assert.match(dockerfile, /^RUN CGO_ENABLED=0 GOBIN=\/opt\/litestream go install github\.com\/benbjohnson\/litestream\/cmd\/litestream@v\$\{LITESTREAM_VERSION\}/m);
    assert.match(dockerfile, /^COPY --from=litestream \/opt\/litestream\/litestream \/usr\/local\/bin\/litestream$/m);
    assert.ok(dockerfile.indexOf('COPY --from=litestream') > dockerfile.lastIndexOf('\nFROM '), 'copied into the final image');
  });

  it('every file a Dockerfile copies exists and is let through .dockerignore', () => {
    for (const image of ['nginx', 'mlflow']) {
      const dir = join(CONTAINERS, image);
      const ignore = readFileSync(join(dir, '.dockerignore'), 'utf8');
      const sources = readFileSync(join(dir, 'Dockerfile'), 'utf8')
        .split('\n')
        // From the build context (a COPY --from takes a file of a build stage).
        .filter((line) => /^COPY\s/.test(line) && !/\s--from=/.test(line))
        // Every source of a COPY line (all words but the instruction and the destination).
        .flatMap((line) => line.split(/\s+/).filter((w) => w !== '' && !w.startsWith('--')).slice(1, -1));
      assert.ok(sources.length > 0);
      for (const source of sources) {
        assert.ok(existsSync(join(dir, source)), `${image}: ${source} is missing`);
        assert.ok(ignore.split('\n').includes(`!${source}`), `${image}: .dockerignore drops ${source}`);
      }
    }
  });
});
