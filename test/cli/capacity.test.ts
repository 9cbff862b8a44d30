import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DescribeScalableTargetsCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CAPACITY_MAX_WAIT_MS, CAPACITY_POLL_MS } from '../../src/cli/commands/capacity';
import { EXIT } from '../../src/cli/errors';
import { accessDenied, DEPLOYED_TEMPLATES, harness, Harness, NODE_PATH, outputs, setStacks, setTemplates } from './helpers';

const RESOURCE_ID = 'service/mlflow-cluster/mlflow-svc';

/** A deployed template with the service's scalable target, as this app synthesizes it (numbers, not tokens). */
function template(min: number, max: number, desired: number, database: 'aurora' | 'sqlite' = 'aurora'): string {
  return JSON.stringify({
    Resources: {
      // A standard-profile stack (the load balancer), as the configuration's default profile: deploy reads it too.
      LoadBalancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer' },
      // database=aurora has the cluster; database=sqlite the replica bucket.
      ...(database === 'aurora' ? { Database: { Type: 'AWS::RDS::DBCluster' } } : { Replica: { Type: 'AWS::S3::Bucket' } }),
      Service: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: desired } },
      Target: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { MinCapacity: min, MaxCapacity: max, ScalableDimension: 'ecs:service:DesiredCount' } },
    },
  });
}

function deployed(h: Harness, trackingUri?: string): void {
  setStacks(h.mocks, {
    MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) },
    ...(trackingUri ? { HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: trackingUri }) } } : {}),
  });
  h.mocks.cfn.on(GetTemplateCommand, { StackName: 'MLflowVpcStack', TemplateStage: 'Original' }).resolves({ TemplateBody: template(2, 6, 2) });
}

function service(h: Harness, ...states: Array<{ desired: number; running: number }>): void {
  const queue = [...states];
  h.mocks.ecs.on(DescribeServicesCommand, { cluster: 'mlflow-cluster', services: ['mlflow-svc'] }).callsFake(async () => {
    const next = queue.length > 1 ? queue.shift()! : queue[0];
    return { services: [{ status: 'ACTIVE', desiredCount: next.desired, runningCount: next.running }] };
  });
}

function scalable(h: Harness, min: number, max: number): void {
  h.mocks.aas.on(DescribeScalableTargetsCommand, { ServiceNamespace: 'ecs', ResourceIds: [RESOURCE_ID], ScalableDimension: 'ecs:service:DesiredCount' })
    .resolves({ ScalableTargets: [{ ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: min, MaxCapacity: max, RoleARN: 'r', CreationTime: new Date() }] });
}

/** The writes: scalable target registrations, then desired counts. */
function writes(h: Harness): string[] {
  return [
    ...h.mocks.aas.commandCalls(RegisterScalableTargetCommand).map((c) => `register ${c.args[0].input.MinCapacity}-${c.args[0].input.MaxCapacity} suspended=${c.args[0].input.SuspendedState?.ScheduledScalingSuspended}`),
    ...h.mocks.ecs.commandCalls(UpdateServiceCommand).map((c) => `desired ${c.args[0].input.desiredCount}`),
  ];
}

describe('pause', () => {
  it('holds the scalable target at 0-0 with every kind of scaling suspended, then sets 0 tasks', async () => {
    const h = harness();
    deployed(h);
    scalable(h, 2, 6);
    service(h, { desired: 2, running: 2 });
    assert.equal(await h.run('pause'), EXIT.ok, h.text());
    const register = h.mocks.aas.commandCalls(RegisterScalableTargetCommand);
    assert.equal(register.length, 1);
    assert.deepEqual(register[0].args[0].input, {
      ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 0, MaxCapacity: 0,
      SuspendedState: { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true },
    });
    assert.deepEqual(h.mocks.ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input), [{ cluster: 'mlflow-cluster', service: 'mlflow-svc', desiredCount: 0 }]);
    assert.match(h.out.join('\n'), /Paused: service mlflow-svc holds 0 tasks \(was 2/);
    assert.match(h.out.join('\n'), /503/);
  });

  it('says so and changes nothing when already paused', async () => {
    const h = harness();
    deployed(h);
    scalable(h, 0, 0);
    service(h, { desired: 0, running: 0 });
    assert.equal(await h.run('pause'), EXIT.ok, h.text());
    assert.deepEqual(writes(h), []);
    assert.match(h.out.join('\n'), /already paused/);
  });

  it('--wait polls until no task runs and says how long it took', async () => {
    const h = harness();
    deployed(h);
    scalable(h, 2, 6);
    service(h, { desired: 2, running: 2 }, { desired: 0, running: 2 }, { desired: 0, running: 1 }, { desired: 0, running: 0 });
    assert.equal(await h.run('pause', '--wait'), EXIT.ok, h.text());
    assert.deepEqual(h.sleeps, [CAPACITY_POLL_MS, CAPACITY_POLL_MS]);
    assert.match(h.out.join('\n'), /All tasks stopped after 20 s/);
  });

  it('not deployed: exit 5 and no write', async () => {
    const h = harness();
    assert.equal(await h.run('pause'), EXIT.notDeployed, h.text());
    assert.deepEqual(writes(h), []);
  });

  it('access denied on the scalable target: exit 4 naming the action, and the desired count untouched', async () => {
    const h = harness();
    deployed(h);
    scalable(h, 2, 6);
    service(h, { desired: 2, running: 2 });
    h.mocks.aas.on(RegisterScalableTargetCommand).rejects(accessDenied('application-autoscaling:RegisterScalableTarget'));
    assert.equal(await h.run('pause'), EXIT.accessDenied, h.text());
    assert.match(h.err.join('\n'), /RegisterScalableTarget/);
    assert.equal(h.mocks.ecs.commandCalls(UpdateServiceCommand).length, 0, 'the service must not go to 0 while autoscaling would bring it back');
  });

  it('a service without a scalable target is an error, not a pause that autoscaling undoes', async () => {
    const h = harness();
    deployed(h);
    h.mocks.aas.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] });
    service(h, { desired: 2, running: 2 });
    assert.equal(await h.run('pause'), EXIT.failure, h.text());
    assert.deepEqual(writes(h), []);
  });
});

describe('resume', () => {
  let server: Server;
  let uri: string;
  let answers: number[] = [];
  const probes: string[] = [];
  before(async () => {
    server = createServer((request, response) => {
      probes.push(request.url ?? '');
      response.statusCode = answers.length > 1 ? answers.shift()! : (answers[0] ?? 200);
      response.end('x');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('restores the deployed template\'s counts, lifts the suspension, and waits for tasks and the endpoint', async () => {
    const h = harness();
    deployed(h, uri);
    service(h, { desired: 2, running: 0 }, { desired: 2, running: 1 }, { desired: 2, running: 2 });
    answers = [503, 503, 200];
    probes.length = 0;
    assert.equal(await h.run('resume'), EXIT.ok, h.text());
    assert.deepEqual(h.mocks.aas.commandCalls(RegisterScalableTargetCommand)[0].args[0].input, {
      ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 2, MaxCapacity: 6,
      SuspendedState: { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false },
    });
    assert.deepEqual(h.mocks.ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input.desiredCount), [2]);
    assert.deepEqual(probes, ['/elb-status', '/elb-status', '/elb-status'], 'the endpoint is probed only once the tasks run, until it answers 200');
    // Two polls until 2 tasks run, then two more while the endpoint answers 503.
    assert.equal(h.sleeps.length, 4);
    assert.match(h.out.join('\n'), new RegExp(`resumed in ${(4 * CAPACITY_POLL_MS) / 1000} s`));
  });

  it('--no-wait returns once the service is told', async () => {
    const h = harness();
    deployed(h, uri);
    service(h, { desired: 0, running: 0 });
    assert.equal(await h.run('resume', '--no-wait'), EXIT.ok, h.text());
    assert.deepEqual(writes(h), ['register 2-6 suspended=false', 'desired 2']);
    assert.equal(h.mocks.ecs.commandCalls(DescribeServicesCommand).length, 0);
  });

  it('gives up after the maximum wait with exit 1 and a hint', async () => {
    const h = harness();
    deployed(h, uri);
    service(h, { desired: 2, running: 0 });
    assert.equal(await h.run('resume'), EXIT.failure, h.text());
    assert.match(h.err.join('\n'), /Gave up waiting for MLflow to answer after 20 minutes/);
    assert.equal(h.sleeps.length, CAPACITY_MAX_WAIT_MS / CAPACITY_POLL_MS);
  });

  it('a deployed template without one fixed scalable target: exit 1, nothing changed', async () => {
    const h = harness();
    deployed(h, uri);
    h.mocks.cfn.on(GetTemplateCommand).resolves({ TemplateBody: JSON.stringify({ Resources: { Service: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 2 } } } }) });
    assert.equal(await h.run('resume'), EXIT.failure, h.text());
    assert.deepEqual(writes(h), []);
  });

  it('database=sqlite: a deployed maximum above 1 task is refused in one line before any count is set (one writer)', async () => {
    const h = harness();
    deployed(h, uri);
    h.mocks.cfn.on(GetTemplateCommand).resolves({ TemplateBody: template(1, 2, 1, 'sqlite') });
    service(h, { desired: 0, running: 0 });
    assert.equal(await h.run('resume', '--no-wait'), EXIT.failure, h.text());
    assert.deepEqual(writes(h), []);
    assert.match(h.err.join('\n'), /would allow 2 MLflow tasks, and with database=sqlite there is exactly one \(one writer/);
  });

  it('database=sqlite: the deployed 0-1 resumes one task', async () => {
    const h = harness();
    deployed(h, uri);
    h.mocks.cfn.on(GetTemplateCommand).resolves({ TemplateBody: template(0, 1, 1, 'sqlite') });
    service(h, { desired: 0, running: 0 });
    assert.equal(await h.run('resume', '--no-wait'), EXIT.ok, h.text());
    assert.deepEqual(writes(h), ['register 0-1 suspended=false', 'desired 1']);
  });

  it('a template whose minimum is 0 still starts one task', async () => {
    const h = harness();
    deployed(h, uri);
    h.mocks.cfn.on(GetTemplateCommand).resolves({ TemplateBody: template(0, 3, 0) });
    service(h, { desired: 0, running: 0 });
    assert.equal(await h.run('resume', '--no-wait'), EXIT.ok, h.text());
    assert.deepEqual(writes(h), ['register 0-3 suspended=false', 'desired 1']);
  });

  it('rejects unknown options as usage errors', async () => {
    const h = harness();
    assert.equal(await h.run('resume', '--wait-forever'), EXIT.usage);
  });
});

describe('deploy while MLflow runs no task (review findings 8 and 16)', () => {
  const TOOLKIT = { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) } };

  /**
   * A deployment whose scalable target and service follow the calls; `cdkChangesScaling`: the deploy re-registers the
   * template's range 2..6 without suspension and autoscaling raises the desired count to 2, as an update of the
   * scalable target does.
   */
  function stateful(initial: { min: number; max: number; suspended: boolean; desired: number }, cdk: { exit?: number; cdkChangesScaling?: boolean } = {}) {
    const state = { ...initial };
    const h = harness({
      runner: (call) => {
        if (call.command === NODE_PATH && call.args[1] === 'deploy' && cdk.cdkChangesScaling) Object.assign(state, { min: 2, max: 6, suspended: false, desired: 2 });
        return { exitCode: call.command === NODE_PATH ? (cdk.exit ?? 0) : 0, stdout: '', stderr: '' };
      },
    });
    setStacks(h.mocks, { ...TOOLKIT, MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) } });
    // deploy reads the deployed template for its refusals (src/cli/deployed-state.ts): a standard-profile stack.
    setTemplates(h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.standard });
    h.mocks.aas.on(DescribeScalableTargetsCommand).callsFake(async () => ({
      ScalableTargets: [{
        ServiceNamespace: 'ecs', ResourceId: RESOURCE_ID, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: state.min, MaxCapacity: state.max, RoleARN: 'r', CreationTime: new Date(),
        SuspendedState: { DynamicScalingInSuspended: state.suspended, DynamicScalingOutSuspended: state.suspended, ScheduledScalingSuspended: state.suspended },
      }],
    }));
    h.mocks.aas.on(RegisterScalableTargetCommand).callsFake(async (input) => {
      Object.assign(state, { min: input.MinCapacity, max: input.MaxCapacity, suspended: input.SuspendedState.ScheduledScalingSuspended });
      return {};
    });
    h.mocks.ecs.on(UpdateServiceCommand).callsFake(async (input) => {
      state.desired = input.desiredCount;
      return {};
    });
    h.mocks.ecs.on(DescribeServicesCommand).callsFake(async () => ({ services: [{ status: 'ACTIVE', desiredCount: state.desired, runningCount: state.desired }] }));
    return { h, state };
  }

  const cdkRuns = (h: Harness) => h.runs.filter((r) => r.command === NODE_PATH);

  it('paused: refused before cdk runs, naming --while-paused and resume', async () => {
    const { h } = stateful({ min: 0, max: 0, suspended: true, desired: 0 });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure, h.text());
    assert.equal(cdkRuns(h).length, 0);
    assert.deepEqual(writes(h), []);
    assert.match(h.text(), /MLflow runs no task \(service mlflow-svc is held at 0 by `npx mlflow-on-aws pause`\): a deploy now would validate nothing/);
    assert.match(h.text(), /--while-paused/);
    assert.match(h.text(), /npx mlflow-on-aws resume/);
  });

  it('outside active hours (0..0 by the schedule, nothing suspended): refused the same way', async () => {
    const { h } = stateful({ min: 0, max: 0, suspended: false, desired: 0 });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.failure, h.text());
    assert.equal(cdkRuns(h).length, 0);
    assert.match(h.text(), /is at 0 tasks \(outside activeHours, or scaled to 0\)/);
  });

  it('--while-paused: deploys, then puts the pause back when the deploy re-registered the scalable target (finding 16)', async () => {
    const { h, state } = stateful({ min: 0, max: 0, suspended: true, desired: 0 }, { cdkChangesScaling: true });
    assert.equal(await h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.equal(cdkRuns(h).length, 1);
    assert.deepEqual(state, { min: 0, max: 0, suspended: true, desired: 0 });
    assert.match(h.text(), /The deploy had changed the service's scaling \(now 2-6, 2 desired\): put back to 0-0, 0 tasks, scaling suspended/);
  });

  it('--while-paused outside active hours: puts back 0..0 without suspending the schedule that starts it', async () => {
    const { h, state } = stateful({ min: 0, max: 0, suspended: false, desired: 0 }, { cdkChangesScaling: true });
    assert.equal(await h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.deepEqual(state, { min: 0, max: 0, suspended: false, desired: 0 });
  });

  it('--while-paused turning sleep off while the gateway has the starting integration: refused before cdk runs (the routes point at it), naming resume', async () => {
    const gatewayWithSleep = { Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api' }, Link: { Type: 'AWS::ApiGatewayV2::Integration', Properties: { IntegrationType: 'HTTP_PROXY' } },
      Starting: { Type: 'AWS::ApiGatewayV2::Integration', Properties: { IntegrationType: 'AWS_PROXY' } } } };
    for (const [suspended, why] of [[true, 'paused'], [false, 'outside activeHours']] as const) {
      const { h, state } = stateful({ min: 0, max: 0, suspended, desired: 0 });
      setStacks(h.mocks, { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) }, MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) }, HttpGatewayStack: {} });
      setTemplates(h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.lean, HttpGatewayStack: gatewayWithSleep });
      assert.equal(await h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild', '-c', 'profile=lean', '-c', 'sleepAfterMinutes=0'), EXIT.failure, h.text());
      assert.match(h.text(), new RegExp(`MLflow is ${why}, so its gateway's routes point at the sleep function's starting integration`));
      assert.match(h.text(), /Resume first \(`npx mlflow-on-aws resume`/);
      assert.equal(cdkRuns(h).length, 0);
      assert.deepEqual(state, { min: 0, max: 0, suspended, desired: 0 }, 'nothing changed');
    }
    // Keeping sleep on, or a gateway without the integration: the deploy goes ahead.
    const on = stateful({ min: 0, max: 0, suspended: true, desired: 0 });
    setStacks(on.h.mocks, { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) }, MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) }, HttpGatewayStack: {} });
    setTemplates(on.h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.lean, HttpGatewayStack: gatewayWithSleep });
    assert.equal(await on.h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild', '-c', 'profile=lean'), EXIT.ok, on.h.text());
    const none = stateful({ min: 0, max: 0, suspended: true, desired: 0 });
    setStacks(none.h.mocks, { CDKToolkit: { Outputs: outputs({ BootstrapVersion: '27' }) }, MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) }, HttpGatewayStack: {} });
    setTemplates(none.h.mocks, { MLflowVpcStack: DEPLOYED_TEMPLATES.lean, HttpGatewayStack: DEPLOYED_TEMPLATES.gateway });
    assert.equal(await none.h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild', '-c', 'profile=lean', '-c', 'sleepAfterMinutes=0'), EXIT.ok, none.h.text());
  });

  it('--while-paused and a failed cdk: the pause is put back all the same, exit 1', async () => {
    const { h, state } = stateful({ min: 0, max: 0, suspended: true, desired: 0 }, { exit: 1, cdkChangesScaling: true });
    assert.equal(await h.run('deploy', '--while-paused', '-c', 'imageBuild=codebuild'), EXIT.failure, h.text());
    assert.deepEqual(state, { min: 0, max: 0, suspended: true, desired: 0 });
  });

  it('asleep (sleepAfterMinutes: minimum 0, maximum kept): woken to the deployed counts before cdk runs, so that the deploy validates the new revision', async () => {
    const { h, state } = stateful({ min: 0, max: 6, suspended: false, desired: 0 });
    setTemplates(h.mocks, { MLflowVpcStack: JSON.parse(template(2, 6, 2)) });
    // Sleep stays on (an asleep service had it on): the deploy does not wait for the routes first.
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild', '-c', 'sleepAfterMinutes=30'), EXIT.ok, h.text());
    assert.equal(cdkRuns(h).length, 1);
    assert.deepEqual(state, { min: 2, max: 6, suspended: false, desired: 2 });
    assert.match(h.text(), /Service mlflow-svc was asleep \(sleepAfterMinutes\): woken \(2 tasks\) so that the deploy validates the new revision/);
  });

  it('asleep: once deployed, the endpoint is probed through the gateway until it answers, which puts its routes back on the VPC link', async () => {
    const probes: string[] = [];
    const answersOf = [503, 503, 200];
    const server = createServer((request, response) => {
      probes.push(request.url ?? '');
      response.statusCode = answersOf.length > 1 ? answersOf.shift()! : answersOf[0];
      response.end('x');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { h } = stateful({ min: 0, max: 6, suspended: false, desired: 0 });
      setStacks(h.mocks, {
        ...TOOLKIT,
        MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) },
        HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }) },
      });
      setTemplates(h.mocks, { MLflowVpcStack: JSON.parse(template(2, 6, 2)) });
      assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild', '-c', 'sleepAfterMinutes=30'), EXIT.ok, h.text());
      assert.deepEqual(probes, ['/elb-status', '/elb-status', '/elb-status']);
      assert.match(h.text(), /MLflow answers through the gateway: its routes are back on the VPC link \(3 probes\)/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('asleep and turning sleep off: the routes go back on the VPC link before cdk runs (it removes the integration they point at), or the deploy is refused', async () => {
    let answer = [503, 200];
    let h: Harness | undefined;
    const seen: number[] = [];
    const server = createServer((_request, response) => {
      seen.push(cdkRuns(h!).length);
      response.statusCode = answer.length > 1 ? answer.shift()! : answer[0];
      response.end('x');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const asleepDeployment = () => {
      const made = stateful({ min: 0, max: 6, suspended: false, desired: 0 });
      setStacks(made.h.mocks, {
        ...TOOLKIT,
        MLflowVpcStack: { Outputs: outputs({ EcsClusterName: 'mlflow-cluster', EcsServiceName: 'mlflow-svc' }) },
        HttpGatewayStack: { Outputs: outputs({ MlflowTrackingUri: uri }) },
      });
      setTemplates(made.h.mocks, { MLflowVpcStack: JSON.parse(template(2, 6, 2)) });
      return made.h;
    };
    try {
      h = asleepDeployment();
      assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild', '-c', 'sleepAfterMinutes=0'), EXIT.ok, h.text());
      assert.deepEqual(seen, [0, 0, 1], 'probed until it answered before cdk ran, once more after');
      h = asleepDeployment();
      answer = [503];
      seen.length = 0;
      assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild', '-c', 'sleepAfterMinutes=0'), EXIT.failure, h.text());
      assert.equal(cdkRuns(h).length, 0);
      assert.equal(seen.length, 36);
      assert.match(h.text(), /routes still point at the sleep function's starting integration[\s\S]*npx mlflow-on-aws resume/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a running service deploys as usual, its capacity untouched', async () => {
    const { h } = stateful({ min: 2, max: 6, suspended: false, desired: 2 });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.equal(cdkRuns(h).length, 1);
    assert.deepEqual(writes(h), []);
    assert.equal(h.mocks.aas.commandCalls(DescribeScalableTargetsCommand).length, 0, 'a running service needs no look at its scaling');
  });

  it('a stack without its ECS service (a failed first create) is no reason to refuse: cdk runs', async () => {
    const { h } = stateful({ min: 0, max: 0, suspended: true, desired: 0 });
    h.mocks.ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
    assert.equal(await h.run('deploy', '-c', 'imageBuild=codebuild'), EXIT.ok, h.text());
    assert.equal(cdkRuns(h).length, 1);
  });
});
