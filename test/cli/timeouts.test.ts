/**
 * Every AWS call is bounded: a network that takes the connection and never answers must not hang the CLI.
 * The "network" here is a TCP server on 127.0.0.1 that accepts each connection and holds it silently; the
 * SDK clients are pointed at it with their `endpoint` setting and get small limits so that the tests are fast.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AWS_CALL_LIMITS, AwsCallLimits, AwsClients, awsClientConfig, createAwsClients, defaultDeps } from '../../src/cli/deps';
import { EXIT } from '../../src/cli/errors';
import { runCli } from '../../src/cli/main';
import { harness, HarnessOptions } from './helpers';

const SMALL: AwsCallLimits = { connectionTimeoutMs: 250, requestTimeoutMs: 400, maxAttempts: 2 };
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const dockerUp: HarnessOptions['runner'] = () => ({ exitCode: 0, stdout: '28.2.2\n', stderr: '' });

/** Accepts TCP connections on 127.0.0.1 and never writes a byte. */
class SilentServer {
  readonly sockets = new Set<net.Socket>();
  connections = 0;
  private readonly server = net.createServer((socket) => {
    this.connections++;
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('AWS calls time out', () => {
  const server = new SilentServer();
  let endpoint = '';
  before(async () => {
    endpoint = await server.start();
  });
  after(() => server.stop());

  const silentClients = (limits: AwsCallLimits = SMALL) => (target: { region: string; profile?: string }): AwsClients =>
    createAwsClients(target, { limits, endpoint, credentials: CREDENTIALS });

  it('a call to an endpoint that never answers fails with TimeoutError after maxAttempts, within the limits', { timeout: 10_000 }, async () => {
    const before = server.connections;
    const clients = silentClients()({ region: 'us-west-2' });
    const started = Date.now();
    await assert.rejects(clients.sts.send(new GetCallerIdentityCommand({})), (error: Error & { $metadata?: { attempts?: number } }) => {
      assert.equal(error.name, 'TimeoutError', error.message);
      assert.match(error.message, /400 ms requestTimeout/);
      assert.equal(error.$metadata?.attempts, 2);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 2 * SMALL.requestTimeoutMs, `gave up after ${elapsed} ms, before two full attempts`);
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
    assert.equal(server.connections - before, 2, 'one connection per attempt');
  });

  it('doctor: exits with the network-error code (6) and says AWS did not answer', { timeout: 10_000 }, async () => {
    const h = harness({ runner: dockerUp });
    const started = Date.now();
    const code = await runCli(['doctor'], { ...h.deps, clients: silentClients() });
    assert.equal(code, EXIT.wrongTarget, h.text());
    assert.ok(Date.now() - started < 5_000);
    const text = h.out.join('\n');
    assert.match(text, /\[FAIL\] AWS credentials: No answer from AWS in region "us-west-2" while checking the credentials \(sts:GetCallerIdentity\) after 2 attempts/);
    assert.match(text, /fix: The network dropped or held the connection\. Check the connection \(VPN, firewall, proxy\)/);
    assert.match(text, /\[skip\] CDK bootstrap: needs working credentials/);
  });

  it('status: the same error ends the command with exit 6', { timeout: 10_000 }, async () => {
    const h = harness();
    const code = await runCli(['status'], { ...h.deps, clients: silentClients() });
    assert.equal(code, EXIT.wrongTarget, h.text());
    assert.match(h.err.join('\n'), /^Error: No answer from AWS in region "us-west-2"/m);
  });
});

describe('the default limits', () => {
  it('5 s to connect, 30 s per attempt, 3 attempts: defined once, in AWS_CALL_LIMITS', () => {
    assert.deepEqual({ ...AWS_CALL_LIMITS }, { connectionTimeoutMs: 5_000, requestTimeoutMs: 30_000, maxAttempts: 3 });
    assert.ok(Object.isFrozen(AWS_CALL_LIMITS));
  });

  it('every client the CLI creates uses them, and a request past its limit is an error, not a warning', async () => {
    const config = awsClientConfig({ region: 'us-west-2' });
    assert.deepEqual(config.requestHandler, { connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true });
    assert.equal(config.maxAttempts, 3);

    const clients = defaultDeps().clients({ region: 'us-west-2' });
    for (const [name, client] of Object.entries(clients)) {
      const resolved = client.config as unknown as { maxAttempts: () => Promise<number>; requestHandler: { configProvider: Promise<Record<string, unknown>> } };
      assert.equal(await resolved.maxAttempts(), 3, name);
      const handler = await resolved.requestHandler.configProvider;
      assert.equal(handler.connectionTimeout, AWS_CALL_LIMITS.connectionTimeoutMs, name);
      assert.equal(handler.requestTimeout, AWS_CALL_LIMITS.requestTimeoutMs, name);
      assert.equal(handler.throwOnRequestTimeout, true, name);
    }
  });
});
