import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONTAINERS_DIR } from '../../src/lib/service/container-images';
import { DATABASE_WAIT, ECS_MAX_GRACE_PERIOD_SECONDS, MIGRATION_ALLOWANCE } from '../../src/lib/service/mlflow-startup';
import { CONTAINER_NAMES } from '../../src/lib/contract';
import { platformTemplate as mlflowTemplate, resourcesOfType } from '../support/synth';

const template = mlflowTemplate();
const [[, service]] = resourcesOfType(template, 'AWS::ECS::Service');

describe('the MLflow service starts after its database', () => {
  test('the service depends on the writer instance, not only on the cluster its tasks name', () => {
    const [[writerId]] = resourcesOfType(template, 'AWS::RDS::DBInstance');
    assert.ok((service.DependsOn ?? []).includes(writerId), `DependsOn: ${JSON.stringify(service.DependsOn)}`);
  });

  test('the service depends on the rule that lets its tasks reach the database', () => {
    const [[clusterId]] = resourcesOfType(template, 'AWS::RDS::DBCluster');
    const toDatabase = resourcesOfType(template, 'AWS::EC2::SecurityGroupIngress')
      .filter(([, rule]) => JSON.stringify(rule.Properties.FromPort).includes(clusterId))
      .map(([id]) => id);
    assert.equal(toDatabase.length, 1);
    assert.ok((service.DependsOn ?? []).includes(toDatabase[0]), `DependsOn: ${JSON.stringify(service.DependsOn)}`);
  });
});

describe('the health-check grace period covers the longest legitimate start of an MLflow task', () => {
  const helper = readFileSync(path.join(CONTAINERS_DIR, 'mlflow', 'mlflow_db.py'), 'utf8');
  const mlflow = (template.toJSON().Resources[resourcesOfType(template, 'AWS::ECS::TaskDefinition')[0][0]].Properties.ContainerDefinitions as any[])
    .find((c) => c.Name === CONTAINER_NAMES.mlflow);
  const environment = Object.fromEntries(mlflow.Environment.map((e: any) => [e.Name, e.Value]));
  const [[, targetGroup]] = resourcesOfType(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');

  test('the container gets MLFLOW_DB_WAIT_SECONDS explicitly, the same as the helper script\'s own default', () => {
    const scriptDefault = helper.match(/os\.environ\.get\("MLFLOW_DB_WAIT_SECONDS", "(\d+)"\)/)?.[1];
    assert.ok(scriptDefault, 'mlflow_db.py reads MLFLOW_DB_WAIT_SECONDS with a default');
    assert.equal(environment.MLFLOW_DB_WAIT_SECONDS, String(DATABASE_WAIT.toSeconds()));
    assert.equal(environment.MLFLOW_DB_WAIT_SECONDS, scriptDefault);
  });

  test('the helper spends the wait twice: on reaching the database, then on the schema lock', () => {
    assert.match(helper, /connect\(s, time\.monotonic\(\) \+ wait\)/);
    assert.match(helper, /GET_LOCK\(%s, %s\)", \(LOCK_NAME, wait\)/);
  });

  test('grace period >= database wait + lock wait + migration allowance + load balancer healthy threshold, within what ECS accepts', () => {
    const wait = Number(environment.MLFLOW_DB_WAIT_SECONDS);
    const becomesHealthy = targetGroup.Properties.HealthCheckIntervalSeconds * targetGroup.Properties.HealthyThresholdCount;
    const needed = 2 * wait + MIGRATION_ALLOWANCE.toSeconds() + becomesHealthy;
    const grace = service.Properties.HealthCheckGracePeriodSeconds;
    assert.ok(grace >= needed, `grace period ${grace} s < ${needed} s a task may legitimately need`);
    assert.ok(grace <= ECS_MAX_GRACE_PERIOD_SECONDS, `grace period ${grace} s > ECS maximum`);
    // Not much more either: a task that hangs without exiting is replaced only after the grace period.
    assert.ok(grace <= needed + 60, `grace period ${grace} s is far above the ${needed} s needed`);
  });
});
