/**
 * A small stand-in for the MLflow server, listening on loopback, used by the proxy tests and the
 * proxy benchmark. It answers like the parts of MLflow the proxy cares about:
 *   GET  /health          200 "OK" while healthy, 503 otherwise (MLflow's own health endpoint)
 *   GET  /echo            JSON with the method, URL and headers it received
 *   POST /upload          reads the whole body, answers JSON { bytes, sha256 }
 *   GET  /stream?bytes=N  streams N bytes of a deterministic pattern in chunks (no Content-Length)
 *   GET  /bench           a small fixed JSON body (for the benchmark)
 *   GET  /static-files/*  a file of MLflow's UI as MLflow serves it (staticFile: text by its extension, its
 *                         Cache-Control of 28 days, an ETag)
 * Every request but /bench is recorded (method, URL, headers, body bytes) in `received`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The error text /status/<code> answers with. */
export const UPSTREAM_ERROR_TEXT = "(pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on 'mlflow-db.cluster-abc.us-west-2.rds.amazonaws.com' (timed out)\")";

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  /** Body bytes read; the stand-in reads every body but /stream's and /bench's. */
  readonly bodyBytes: number;
}

export interface StandInUpstream {
  readonly port: number;
  /** The last requests received, oldest first (/bench excluded, at most 1,000). */
  readonly received: readonly ReceivedRequest[];
  /** TCP connections accepted since start (shows whether the proxy reuses connections). */
  readonly connections: number;
  /** Makes /health answer 503 (false) or 200 (true). */
  setHealthy(healthy: boolean): void;
  /** Stops listening and drops open connections; `start()` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

const BENCH_BODY = Buffer.from(JSON.stringify({ experiments: [{ experiment_id: '0', name: 'Default' }] }));

/** Byte i of the /stream body: a pattern a test can recompute to check the body arrived intact. */
export function streamPatternChunk(offset: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) chunk[i] = (offset + i) % 251;
  return chunk;
}

export function expectedStreamSha256(bytes: number): string {
  const hash = createHash('sha256');
  const step = 1 << 16;
  for (let offset = 0; offset < bytes; offset += step) hash.update(streamPatternChunk(offset, Math.min(step, bytes - offset)));
  return hash.digest('hex');
}

/** MLflow's answer to GET /static-files/<path> (Flask's send_from_directory with max_age=2419200). */
export const STATIC_CACHE_CONTROL = 'public, max-age=2419200';
const STATIC_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
};

/** The body the stand-in serves for a static file: 64 KiB of source-like text, or of bytes for a .png. */
export function staticFile(path: string): Buffer {
  if (path.endsWith('.png')) return streamPatternChunk(0, 65_536);
  const line = `function f${path.length}(a){return a.map((x)=>x*2).filter(Boolean)}/* ${path} */\n`;
  return Buffer.from(line.repeat(Math.ceil(65_536 / line.length)));
}

function handle(req: IncomingMessage, res: ServerResponse, healthy: () => boolean, record: (r: ReceivedRequest) => void): void {
  const url = new URL(req.url ?? '/', 'http://stand-in');
  if (url.pathname === '/bench') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BENCH_BODY.length });
    res.end(BENCH_BODY);
    return;
  }
  const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0 };
  record(entry);
  if (url.pathname !== '/stream') req.on('data', (chunk: Buffer) => (entry.bodyBytes += chunk.length));
  if (url.pathname === '/health') {
    req.resume();
    req.on('end', () => {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'OK' : 'unhealthy');
    });
    return;
  }
  if (url.pathname.startsWith('/static-files/')) {
    req.resume();
    req.on('end', () => {
      const body = staticFile(url.pathname);
      const type = STATIC_TYPES[url.pathname.split('.').at(-1) ?? ''] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': STATIC_CACHE_CONTROL, etag: `"${createHash('md5').update(body).digest('hex')}"` });
      res.end(body);
    });
    return;
  }
  if (url.pathname === '/stream') {
    const total = Number(url.searchParams.get('bytes') ?? '0');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let offset = 0;
    const step = 1 << 16;
    const pump = (): void => {
      while (offset < total) {
        const n = Math.min(step, total - offset);
        const more = res.write(streamPatternChunk(offset, n));
        offset += n;
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  if (url.pathname === '/upload') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
    });
    return;
  }
  const failing = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (failing) {
    // As MLflow answers an error: its exception's text, here a database driver's, naming the host.
    req.resume();
    req.on('end', () => {
      res.writeHead(Number(failing[1]), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: UPSTREAM_ERROR_TEXT }));
    });
    return;
  }
  if (url.pathname === '/unauthorized') {
    // As MLflow answers a wrong password in users mode.
    req.resume();
    req.on('end', () => {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="mlflow"' });
      res.end('wrong');
    });
    return;
  }
  // Anything else, /echo included: describe the request as received.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
  });
}

/** Starts the stand-in on 127.0.0.1 (an ephemeral port unless one is given). */
export async function startStandInUpstream(port = 0): Promise<StandInUpstream> {
  let healthy = true;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let boundPort = port;
  let accepted = 0;
  const received: ReceivedRequest[] = [];
  const record = (r: ReceivedRequest): void => {
    received.push(r);
    if (received.length > 1000) received.shift();
  };

  const listen = async (): Promise<void> => {
    const s = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => handle(req, res, () => healthy, record));
    s.on('connection', (socket: Socket) => {
      accepted++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(boundPort, '127.0.0.1', () => resolve());
    });
    boundPort = (s.address() as AddressInfo).port;
    server = s;
  };

  await listen();
  return {
    get port() {
      return boundPort;
    },
    get connections() {
      return accepted;
    },
    received,
    setHealthy(value: boolean) {
      healthy = value;
    },
    async start() {
      if (!server) await listen();
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
