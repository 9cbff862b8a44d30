/**
 * What the benchmarks share: the median of repeated rounds, and wrk (Debian package `wrk`) run as a child process
 * with its summary parsed. Loopback targets only; wrk stops by itself after its duration (and is killed 15 s later
 * if it does not).
 */
import { spawn } from 'node:child_process';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface WrkSummary {
  readonly requests: number;
  readonly rps: number;
  /** Answers other than 2xx or 3xx. */
  readonly non2xx: number;
  /** Connect, read, write and timeout errors together. */
  readonly socketErrors: number;
  /** Latency percentiles as wrk prints them (with `--latency`), e.g. "1.23ms". */
  readonly p50?: string;
  readonly p99?: string;
}

/** Runs `wrk ...args` (the URL last, `-d<seconds>s` among them) and resolves with its summary; rejects when wrk fails. */
export function runWrk(args: readonly string[], seconds: number): Promise<WrkSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      const requests = /(\d+) requests in/.exec(out);
      const rps = /Requests\/sec:\s*([\d.]+)/.exec(out);
      if (code !== 0 || !requests || !rps) return reject(new Error(`wrk failed (${code}):\n${out}`));
      const non2xx = /Non-2xx or 3xx responses:\s*(\d+)/.exec(out);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        requests: Number(requests[1]),
        rps: Number(rps[1]),
        non2xx: non2xx ? Number(non2xx[1]) : 0,
        socketErrors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
        p50: /\s50%\s+(\S+)/.exec(out)?.[1],
        p99: /\s99%\s+(\S+)/.exec(out)?.[1],
      });
    });
  });
}
