/**
 * Regenerates the kept release baselines (src/transition/releases.ts): for each release, a temporary git worktree at
 * its commit (node_modules linked to this checkout's: the releases pin the same aws-cdk-lib), the app synthesized there
 * for each baseline configuration with that commit's cdk.json context, written to
 * test/transitions/baselines/<version>/<config>/.
 *
 *   npm run transitions:baselines            # every release
 *   npm run transitions:baselines -- 0.2.0   # one
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { synthesizeAssembly, writeAssembly } from '../src/transition/assembly';
import { BASELINE_CONFIGURATIONS, configurationsOf, RELEASES } from '../src/transition/releases';

const REPO_ROOT = resolve(__dirname, '..');
export const BASELINES_DIR = join(REPO_ROOT, 'test', 'transitions', 'baselines');

function git(...args: string[]): void {
  const run = spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${run.stderr}`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const releases = RELEASES.filter((release) => wanted.length === 0 || wanted.includes(release.version));
  if (releases.length === 0) throw new Error(`No release ${wanted.join(', ')}; known: ${RELEASES.map((r) => r.version).join(', ')}.`);
  for (const release of releases) {
    const worktree = join(mkdtempSync(join(tmpdir(), `mlflow-release-${release.version}-`)), 'src');
    git('worktree', 'add', '--detach', worktree, release.commit);
    try {
      if (!existsSync(join(worktree, 'node_modules'))) symlinkSync(join(REPO_ROOT, 'node_modules'), join(worktree, 'node_modules'));
      const entry = await import(pathToFileURL(join(worktree, release.entry)).href);
      const configureApp = entry.configureApp ?? entry.default?.configureApp;
      if (typeof configureApp !== 'function') throw new Error(`${release.entry} at ${release.commit} exports no configureApp.`);
      for (const config of configurationsOf(release)) {
        const assembly = synthesizeAssembly(worktree, BASELINE_CONFIGURATIONS[config], (app) => configureApp(app, {}));
        writeAssembly(assembly, join(BASELINES_DIR, release.version, config));
        console.log(`${release.version} (${release.commit}) ${config}: ${assembly.order.join(', ')}`);
      }
    } finally {
      git('worktree', 'remove', '--force', worktree);
    }
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
