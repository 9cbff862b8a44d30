/**
 * The transition check by hand (src/transition/check.ts): prints one line per problem, exit 1 if any.
 *
 *   npm run transitions -- <deployed> <next> [-c key=value ...]
 *   npm run transitions -- --fresh <assembly> [-c key=value ...]
 *
 * An assembly is a `cdk.out` directory (`npx cdk synth -o DIR -c ...`), a baseline directory
 * (test/transitions/baselines/<version>/<config>), or HEAD: this checkout's app synthesized with cdk.json's context
 * and the `-c` settings; over a deployed assembly, `database` is pinned to its engine unless given, as `deploy` does
 * (src/transition/refused.ts, pinnedSettings). Intended replacements come from src/transition/intended-replacements.ts.
 */
import { resolve } from 'node:path';
import { configureApp } from '../src/app/app';
import { Assembly, readAssembly, synthesizeAssembly } from '../src/transition/assembly';
import { checkFreshDeploy, checkUpdate } from '../src/transition/check';
import { INTENDED_REPLACEMENTS } from '../src/transition/intended-replacements';
import { pinnedSettings } from '../src/transition/refused';

const REPO_ROOT = resolve(__dirname, '..');
const USAGE = 'usage: npm run transitions -- <deployed> <next> [-c key=value ...] | --fresh <assembly> [-c key=value ...]   (an assembly: a cdk.out or baseline directory, or HEAD)';

function main(args: string[]): number {
  const fresh = args[0] === '--fresh';
  const positional: string[] = [];
  const settings: Record<string, string> = {};
  for (let i = fresh ? 1 : 0; i < args.length; i++) {
    if (args[i] === '-c' || args[i] === '--context') {
      const [key, ...value] = (args[++i] ?? '').split('=');
      if (!key || value.length === 0) throw new Error(`-c needs key=value, got ${args[i] ?? 'nothing'}`);
      settings[key] = value.join('=');
    } else {
      positional.push(args[i]);
    }
  }
  if (positional.length !== (fresh ? 1 : 2)) throw new Error(USAGE);
  const load = (source: string, deployed?: Assembly): Assembly => source === 'HEAD'
    ? synthesizeAssembly(REPO_ROOT, deployed ? pinnedSettings(deployed.stacks, settings) : settings, (app) => configureApp(app, {}))
    : readAssembly(source);
  const deployed = load(positional[0]);
  const problems = fresh
    ? checkFreshDeploy(deployed)
    : checkUpdate(deployed, load(positional[1], deployed), { intended: INTENDED_REPLACEMENTS });
  for (const problem of problems) console.log(problem);
  console.error(problems.length === 0 ? 'transition check: no problem' : `transition check: ${problems.length} problem(s)`);
  return problems.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
}
