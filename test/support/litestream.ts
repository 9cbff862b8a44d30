/**
 * Litestream for the tests of database=sqlite: built once from its Go module, at the version the MLflow image builds
 * (the one place it is declared: `ARG LITESTREAM_VERSION` in containers/mlflow/Dockerfile), with CGO_ENABLED=0 as the
 * image builds it, into `.cache/litestream/bin/` (ignored by git) by scripts/build-go-tool.sh, the script that builds
 * oauth2-proxy for the sso tests (a program already built at that version is kept). `npm run test:e2e` runs this file
 * first, so that a fresh machine builds it (about 2.5 minutes on 2 cores) before any test's timeout starts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './python-env';

export const MLFLOW_DOCKERFILE = join(REPO_ROOT, 'containers', 'mlflow', 'Dockerfile');
export const LITESTREAM_PACKAGE = 'github.com/benbjohnson/litestream/cmd/litestream';
/** Where the program is built: put it on PATH for the MLflow entrypoint. */
export const LITESTREAM_BIN = join(REPO_ROOT, '.cache', 'litestream', 'bin');
const BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-go-tool.sh');

/** The Litestream release of the MLflow image: its Dockerfile's one `ARG LITESTREAM_VERSION=X.Y.Z` (no leading v). */
export function litestreamVersion(dockerfile: string = MLFLOW_DOCKERFILE): string {
  const declared = [...readFileSync(dockerfile, 'utf8').matchAll(/^ARG LITESTREAM_VERSION=(.*)$/gm)].map((match) => match[1]);
  if (declared.length !== 1) throw new Error(`${dockerfile} must declare ARG LITESTREAM_VERSION=X.Y.Z exactly once, found ${declared.length}`);
  if (!/^\d+\.\d+\.\d+$/.test(declared[0])) throw new Error(`${dockerfile}: LITESTREAM_VERSION must be X.Y.Z, got '${declared[0]}'`);
  return declared[0];
}

/** The path of the litestream program at the image's version, built first when it is not (throws with go's output). */
export function ensureLitestream(): string {
  const version = `v${litestreamVersion()}`;
  const result = spawnSync('sh', [BUILD_SCRIPT, LITESTREAM_BIN, 'litestream', LITESTREAM_PACKAGE, version, 'CGO_ENABLED=0'], {
    encoding: 'utf8',
    timeout: 20 * 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`building Litestream ${version} from ${LITESTREAM_PACKAGE} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return join(LITESTREAM_BIN, 'litestream');
}

if (require.main === module) {
  console.log(`litestream: ${ensureLitestream()} ${litestreamVersion()}`);
}
