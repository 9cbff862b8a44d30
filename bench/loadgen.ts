/**
 * A minimal closed-loop HTTP/1.1 load generator: `connections` keep-alive sockets, each sending the
 * same GET and waiting for the whole response before sending the next, for a fixed time.
 * Raw sockets keep the generator's own CPU cost low (on a 2-core machine it shares the CPU with
 * the servers it measures). Loopback targets only. Bounded: stops by itself after warm-up + duration.
 */
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  readonly requests: number;
  readonly non200: number;
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
}

export interface LoadOptions {
  readonly port: number;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /**
   * When given, each request carries `headers` plus the next of these sets, in turn over all
   * connections (an attacker rotating, say, its claimed client address).
   */
  readonly headerVariants?: ReadonlyArray<Record<string, string>>;
  readonly connections: number;
  /** Measured time, after `warmupMs` of unmeasured load. */
  readonly durationMs: number;
  readonly warmupMs: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const build = (extra?: Record<string, string>): Buffer => {
    const headerLines = Object.entries({ host: '127.0.0.1', ...options.headers, ...extra })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    return Buffer.from(`GET ${options.path} HTTP/1.1\r\n${headerLines}\r\n`);
  };
  const variants = options.headerVariants?.length ? options.headerVariants.map(build) : [build()];
  let sent = 0;
  const nextRequest = (): Buffer => variants[sent++ % variants.length];

  let measuring = false;
  let stopping = false;
  let requests = 0;
  let non200 = 0;
  let errors = 0;

  const worker = (): Promise<void> =>
    new Promise<void>((resolve) => {
      let socket: Socket;
      let buffer: Buffer = Buffer.alloc(0);

      const open = (): void => {
        socket = connect({ host: '127.0.0.1', port: options.port, noDelay: true });
        socket.on('connect', () => socket.write(nextRequest()));
        socket.on('data', onData);
        socket.on('error', () => {
          /* counted on close */
        });
        socket.on('close', (hadError: boolean) => {
          if (stopping) return resolve();
          if (hadError && measuring) errors++;
          buffer = Buffer.alloc(0);
          setTimeout(open, hadError ? 10 : 0);
        });
      };

      const onData = (chunk: Buffer): void => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffer.subarray(0, end).toString('latin1');
          const status = Number(head.slice(9, 12));
          const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (!match) {
            // The benchmark endpoints always send Content-Length; anything else is an error.
            if (measuring) errors++;
            socket.destroy();
            return;
          }
          const total = end + 4 + Number(match[1]);
          if (buffer.length < total) return;
          buffer = buffer.subarray(total);
          if (measuring) {
            requests++;
            if (status !== 200) non200++;
          }
          if (stopping) {
            socket.end();
            return;
          }
          if (/\r\nconnection:\s*close/i.test(head)) {
            socket.destroy();
            return;
          }
          socket.write(nextRequest());
        }
      };

      open();
    });

  const workers = Array.from({ length: options.connections }, worker);
  await sleep(options.warmupMs);
  measuring = true;
  const started = process.hrtime.bigint();
  await sleep(options.durationMs);
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  stopping = true;
  await Promise.race([Promise.all(workers), sleep(5000)]);
  return { requests, non200, errors, seconds, rps: requests / seconds };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
