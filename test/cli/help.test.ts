/**
 * The help is made from the same declarations as the parser (src/cli/commands/index.ts, src/cli/spec.ts), and showing
 * it loads no command module and no aws-cdk-lib.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { COMMAND_SPECS } from '../../src/cli/commands/index';
import { EXIT } from '../../src/cli/errors';
import { COMMON_OPTIONS, commandHelp, CommandSpec, OptionDefs, parseCommand, parserOptions } from '../../src/cli/spec';
import { harness } from './helpers';

const ROOT = path.join(__dirname, '..', '..');

interface HelpEntry {
  readonly names: string[];
  readonly text: string;
}

/**
 * The option entries of a help text, read back as a user reads them: an entry starts with `  -x, --name VALUE` or
 * `  --name VALUE`; the lines below it that start with spaces only continue its text.
 */
function helpEntries(help: string): HelpEntry[] {
  const entries: Array<{ names: string[]; text: string[] }> = [];
  let inOptions = false;
  for (const line of help.split('\n')) {
    if (/^Options( for every command)?:$/.test(line)) {
      inOptions = true;
      continue;
    }
    if (!line.startsWith('  ')) {
      inOptions = false;
      continue;
    }
    if (!inOptions) continue;
    const start = /^ {2}((?:-[a-z], )?--[a-z-]+)(?: \S+)? {2,}(.*)$/.exec(line);
    if (start) {
      entries.push({ names: start[1].split(', ').map((n) => n.replace(/^-+/, '')), text: [start[2]] });
    } else {
      assert.ok(entries.length > 0 && /^ {4,}\S/.test(line), `a line of the options that is neither an option nor its continuation: ${JSON.stringify(line)}`);
      entries[entries.length - 1].text.push(line.trim());
    }
  }
  return entries.map((e) => ({ names: e.names, text: e.text.join(' ') }));
}

function declared(spec: CommandSpec): OptionDefs {
  return { ...COMMON_OPTIONS, ...spec.options };
}

describe('help, from the declarations the parser uses', () => {
  for (const spec of COMMAND_SPECS) {
    it(`${spec.name} --help lists every option the parser takes, with its description and default, and no other`, async () => {
      const h = harness();
      assert.equal(await h.run(spec.name, '--help'), EXIT.ok, h.text());
      assert.equal(h.out.join('\n'), commandHelp(spec));
      const entries = helpEntries(h.out.join('\n'));
      const parsed = parserOptions(spec);
      // Each parsed option once in the help, with its short alias.
      assert.deepEqual(entries.map((e) => e.names.at(-1)).sort(), Object.keys(parsed).sort());
      for (const entry of entries) {
        const name = entry.names.at(-1)!;
        const def = declared(spec)[name];
        assert.deepEqual(entry.names.length === 2 ? entry.names[0] : undefined, parsed[name].short, `short alias of --${name}`);
        assert.equal(entry.text, `${def.description}${def.default ? ` (default: ${def.default})` : ''}`, `--${name}`);
      }
    });

    it(`${spec.name}: every option its help shows is accepted by the parser`, () => {
      const entries = helpEntries(commandHelp(spec));
      assert.ok(entries.length >= Object.keys(COMMON_OPTIONS).length);
      for (const entry of entries) {
        const name = entry.names.at(-1)!;
        const def = declared(spec)[name];
        const value = def.type === 'string' ? [name === 'context' ? 'key=value' : 'x'] : [];
        const { values } = parseCommand(spec, [`--${name}`, ...value]);
        assert.ok((values as Record<string, unknown>)[name] !== undefined, `--${name} parsed`);
        if (entry.names.length === 2) assert.ok((parseCommand(spec, [`-${entry.names[0]}`, ...value]).values as Record<string, unknown>)[name] !== undefined, `-${entry.names[0]} parsed`);
      }
    });
  }

  it('npx mlflow-on-aws --help lists every command with its summary and the options of every command', async () => {
    const h = harness();
    assert.equal(await h.run('--help'), EXIT.ok);
    const text = h.out.join('\n');
    for (const spec of COMMAND_SPECS) assert.ok(text.includes(`  ${spec.name.padEnd(13)}${spec.summary}`), spec.name);
    assert.deepEqual(helpEntries(text).map((e) => e.names.at(-1)).sort(), Object.keys(COMMON_OPTIONS).sort());
  });

  it('help <command> is <command> --help; help <unknown> is an unknown command', async () => {
    const h = harness();
    assert.equal(await h.run('help', 'status'), EXIT.ok);
    assert.equal(h.out.join('\n'), commandHelp(COMMAND_SPECS.find((spec) => spec.name === 'status')!));
    const unknown = harness();
    assert.equal(await unknown.run('help', 'statsu'), EXIT.usage);
    assert.match(unknown.err[0], /Unknown command "statsu"/);
  });

  it('an option given to another command than its own is refused as unknown (the parser takes only the declared ones)', async () => {
    const h = harness();
    assert.equal(await h.run('credentials', '--json'), EXIT.usage);
    assert.match(h.err[0], /Unknown option '--json'/);
  });
});

describe('help loads no command module and no aws-cdk-lib (real process)', () => {
  // A preloaded module that reports, at exit, every module of aws-cdk-lib and of src/cli/commands/ that was loaded.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-cli-modules-'));
  const hook = path.join(dir, 'report-modules.cjs');
  fs.writeFileSync(hook, `process.on('exit', () => {
  const loaded = Object.keys(require.cache);
  process.stderr.write('LOADED ' + JSON.stringify({
    total: loaded.length,
    cdk: loaded.filter((m) => m.includes('/node_modules/aws-cdk-lib/')),
    commands: loaded.filter((m) => /[\\\\/]src[\\\\/]cli[\\\\/]commands[\\\\/](?!index\\.ts$)/.test(m)),
  }) + '\\n');
});
`);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

  function loaded(args: string[], script = path.join(ROOT, 'bin', 'cli.js')): { total: number; cdk: string[]; commands: string[]; status: number | null; stdout: string } {
    const result = spawnSync(process.execPath, ['-r', hook, ...(script ? [script] : []), ...args], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    const line = result.stderr.split('\n').find((l) => l.startsWith('LOADED '));
    assert.ok(line, `no module report: ${result.stderr}`);
    return { ...JSON.parse(line.slice('LOADED '.length)), status: result.status, stdout: result.stdout };
  }

  it('the report sees aws-cdk-lib when something loads it (the check can fail)', () => {
    const report = loaded(['-e', 'require("aws-cdk-lib")'], '');
    assert.ok(report.cdk.length > 0, 'aws-cdk-lib was loaded but not reported');
  });

  function assertNothingHeavy(report: ReturnType<typeof loaded>): void {
    assert.equal(report.status, 0, report.stdout);
    assert.deepEqual(report.cdk, [], `aws-cdk-lib modules loaded: ${report.cdk.slice(0, 5).join(', ')}`);
    assert.deepEqual(report.commands, []);
    assert.ok(report.total > 5, 'the report sees the CLI\'s own modules');
  }

  it('node bin/cli.js --help: exit 0, help on stdout, no aws-cdk-lib and no command module loaded', () => {
    const report = loaded(['--help']);
    assertNothingHeavy(report);
    assert.match(report.stdout, /^Usage: npx mlflow-on-aws <command>/);
  });

  it('every <command> --help, in one process as bin/cli.js runs them: no aws-cdk-lib and no command module loaded', () => {
    // One process for all commands (a process each would cost seconds each): tsx's CommonJS hook, as bin/cli.js
    // registers it, then runCli with the real dependencies, as main() calls it.
    const script = `require('tsx/cjs/api').register();
const { runCli } = require('./src/cli/main.ts');
const { defaultDeps } = require('./src/cli/deps.ts');
(async () => {
  for (const name of ${JSON.stringify(COMMAND_SPECS.map((spec) => spec.name))}) {
    const code = await runCli([name, '--help'], defaultDeps());
    if (code !== 0) process.exitCode = code;
  }
})();`;
    const report = loaded(['-e', script], '');
    assertNothingHeavy(report);
    for (const spec of COMMAND_SPECS) assert.match(report.stdout, new RegExp(`Usage: npx mlflow-on-aws ${spec.name} `));
  });
});
