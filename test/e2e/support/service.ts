/**
 * Long-running programs of the end-to-end suite (MariaDB, the S3 stand-in, MLflow, nginx), each started in its own
 * process group so that stopping it stops every process it forked (MLflow's server runs uvicorn, which forks workers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, readdirSync } from 'node:fs';

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr, from its log file. */
  output(): string;
  /** Resolves with the exit code (or the signal name) once it has exited. */
  readonly exited: Promise<number | string>;
  running(): boolean;
  /** Signals the whole process group (SIGTERM unless told), waits, and kills what is left after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Starts `command` with exactly `env` (nothing inherited), its output appended to `logFile`. */
export function startService(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, cwd?: string): Service {
  appendFileSync(logFile, '');
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    exited,
    running,
    output: () => readFileSync(logFile, 'utf8'),
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) {
      const group = child.pid;
      if (group === undefined) return;
      const signalGroup = (s: NodeJS.Signals): void => {
        try {
          process.kill(-group, s);
        } catch {
          // the group is gone already
        }
      };
      if (running()) {
        signalGroup(signal);
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Children that outlived the leader (workers of a killed server) go too.
      if (processGroup(group).length > 0) {
        await sleep(200);
        signalGroup('SIGKILL');
      }
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `check` returns true; fails after `timeoutMs`, or at once when `service` has exited. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, service?: Service): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service && !service.running()) throw new Error(`${service.name} exited before ${what}:\n${tail(service.output())}`);
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${service ? `:\n${tail(service.output())}` : ''}`);
}

export function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The process ids whose process group is `group` (Linux /proc). */
export function processGroup(group: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name in parentheses: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === group) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export interface MemoryUse {
  readonly processes: number;
  /** Sum of each process's resident set: counts pages that forked workers share once per process (an upper bound). */
  readonly rssMiB: number;
  /** Sum of proportional set sizes: shared pages split between the processes sharing them (what a cgroup is closer to). */
  readonly pssMiB: number;
}

/** Memory of every process in the group (the service and all it forked). */
export function memoryOfGroup(group: number): MemoryUse {
  let rssKiB = 0;
  let pssKiB = 0;
  let processes = 0;
  for (const pid of processGroup(group)) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rssKiB += Number(/^Rss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
      processes += 1;
    } catch {
      // the process ended while we looked
    }
  }
  return { processes, rssMiB: rssKiB / 1024, pssMiB: pssKiB / 1024 };
}
