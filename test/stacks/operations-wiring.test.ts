/**
 * Issue 17 wired into the stacks: the custom domain (gateway resources, tracking URI, MLflow's hosts), the alarms and
 * the dashboard in the gateway stack (each alarm's metric and threshold from the configuration), the backup plan in the
 * platform stack and the copy vault's stack in the copy region; each bad combination of settings is one clear error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ConfigError, resolvePlatformConfig, RawSettings } from '../../src/app/config/platform-config';
import { ALARM_RULES, BACKUP_DEFAULTS } from '../../src/lib/operations/defaults';
import { UNAUTHORIZED_METRIC } from '../../src/lib/operations/monitoring';
import { ALARM_DASHBOARD_NAME, GATEWAY_OUTPUTS, STACK_NAMES } from '../../src/app/names';
import { evaluateIntrinsic, stackIdOf } from '../support/cfn-eval';
import { buildTestPlatform, resourcesOfType } from '../support/synth';

const DOMAIN = 'mlflow.example.com';
const ZONE = { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' };
const CERTIFICATE = 'arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';

/** The MLflow container's environment variable `name` in the platform stack's task definition. */
function mlflowEnvironment(template: Template, name: string): string {
  const [[, task]] = resourcesOfType(template, 'AWS::ECS::TaskDefinition');
  for (const container of task.Properties.ContainerDefinitions) {
    const entry = (container.Environment ?? []).find((e: { Name: string }) => e.Name === name);
    if (entry) return entry.Value;
  }
  throw new Error(`no container has ${name}`);
}

function trackingUriOutput(template: Template): unknown {
  return template.toJSON().Outputs[GATEWAY_OUTPUTS.trackingUri].Value;
}

describe('custom domain in a Route 53 zone', () => {
  const platform = buildTestPlatform({ domainName: DOMAIN, ...ZONE, sagemaker: 'notebook' });
  const gateway = Template.fromStack(platform.gateway);
  const mlflow = Template.fromStack(platform.mlflow);

  test('a certificate for the name, validated by DNS in the zone', () => {
    gateway.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: DOMAIN,
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: DOMAIN, HostedZoneId: ZONE.hostedZoneId }],
    });
  });

  test('a regional API Gateway domain name with that certificate and TLS 1.2, mapped to the $default stage of the API', () => {
    const [[domainId, domain]] = resourcesOfType(gateway, 'AWS::ApiGatewayV2::DomainName');
    assert.equal(domain.Properties.DomainName, DOMAIN);
    const [configuration] = domain.Properties.DomainNameConfigurations;
    assert.equal(configuration.EndpointType, 'REGIONAL');
    assert.equal(configuration.SecurityPolicy, 'TLS_1_2');
    assert.match(JSON.stringify(configuration.CertificateArn), /GatewayCertificate/);
    const [[apiId]] = resourcesOfType(gateway, 'AWS::ApiGatewayV2::Api');
    gateway.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { ApiId: { Ref: apiId }, DomainName: { Ref: domainId }, Stage: '$default' });
  });

  test('an alias A record of the name in the zone, to the domain\'s regional target', () => {
    const [[, record]] = resourcesOfType(gateway, 'AWS::Route53::RecordSet');
    assert.equal(record.Properties.Type, 'A');
    assert.equal(record.Properties.Name, `${DOMAIN}.`);
    assert.equal(record.Properties.HostedZoneId, ZONE.hostedZoneId);
    assert.match(JSON.stringify(record.Properties.AliasTarget), /RegionalDomainName/);
    assert.match(JSON.stringify(record.Properties.AliasTarget), /RegionalHostedZoneId/);
  });

  test('the tracking URI output is https://<domainName>, and the notebook\'s start-up script gets it without an import', () => {
    assert.equal(trackingUriOutput(gateway), `https://${DOMAIN}`);
    const [[, lifecycle]] = resourcesOfType(Template.fromStack(platform.notebook!), 'AWS::SageMaker::NotebookInstanceLifecycleConfig');
    const script = JSON.stringify(lifecycle.Properties.OnStart[0].Content);
    assert.ok(script.includes(`MLFLOW_TRACKING_URI=https://${DOMAIN}`), script);
    assert.equal(gateway.toJSON().Outputs[GATEWAY_OUTPUTS.customDomainTarget], undefined, 'the record is made: no target to point at');
  });

  test('MLflow accepts the domain as Host and origin, beside the execute-api endpoint that stays on', () => {
    const hosts = mlflowEnvironment(mlflow, 'MLFLOW_SERVER_ALLOWED_HOSTS').split(',');
    assert.ok(hosts.includes(DOMAIN), hosts.join(','));
    assert.ok(hosts.includes('*.execute-api.us-west-2.amazonaws.com'));
    const origins = mlflowEnvironment(mlflow, 'MLFLOW_SERVER_CORS_ALLOWED_ORIGINS').split(',');
    assert.ok(origins.includes(`https://${DOMAIN}`), origins.join(','));
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: Match.absent() });
  });

  test('the gateway keeps exporting the API id the notebook imported before the domain, so adding one can deploy', () => {
    const before = Template.fromStack(buildTestPlatform({ sagemaker: 'notebook' }).gateway).toJSON().Outputs;
    const exportsOf = (outputs: Record<string, { Export?: unknown }>) => Object.keys(outputs).filter((key) => outputs[key].Export).sort();
    assert.ok(exportsOf(before).length > 0);
    assert.deepEqual(exportsOf(gateway.toJSON().Outputs), exportsOf(before));
  });
});

describe('custom domain with an existing certificate and the execute-api endpoint off', () => {
  const platform = buildTestPlatform({ domainName: DOMAIN, certificateArn: CERTIFICATE, disableExecuteApiEndpoint: true, sagemaker: 'none' });
  const gateway = Template.fromStack(platform.gateway);
  const mlflow = Template.fromStack(platform.mlflow);

  test('the given certificate, no new one and no record (no zone): the output names the target for the user\'s DNS', () => {
    gateway.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    gateway.resourceCountIs('AWS::Route53::RecordSet', 0);
    gateway.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: DOMAIN,
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: CERTIFICATE })],
    });
    assert.match(JSON.stringify(gateway.toJSON().Outputs[GATEWAY_OUTPUTS.customDomainTarget].Value), /RegionalDomainName/);
  });

  test('the execute-api endpoint is disabled and MLflow no longer accepts its hosts', () => {
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    assert.equal(trackingUriOutput(gateway), `https://${DOMAIN}`);
    const hosts = mlflowEnvironment(mlflow, 'MLFLOW_SERVER_ALLOWED_HOSTS');
    assert.ok(hosts.split(',').includes(DOMAIN), hosts);
    assert.doesNotMatch(hosts, /execute-api/);
    assert.doesNotMatch(mlflowEnvironment(mlflow, 'MLFLOW_SERVER_CORS_ALLOWED_ORIGINS'), /execute-api/);
  });
});

describe('without a custom domain', () => {
  const gateway = Template.fromStack(buildTestPlatform({ sagemaker: 'none' }).gateway);

  test('no domain resources, the execute-api endpoint on and the tracking URI on it', () => {
    for (const type of ['AWS::ApiGatewayV2::DomainName', 'AWS::ApiGatewayV2::ApiMapping', 'AWS::CertificateManager::Certificate', 'AWS::Route53::RecordSet']) {
      gateway.resourceCountIs(type, 0);
    }
    gateway.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: Match.absent() });
    assert.match(JSON.stringify(trackingUriOutput(gateway)), /execute-api/);
  });
});

describe('bad custom-domain and operations settings: one clear error naming the setting', () => {
  const cases: Array<[string, RawSettings, string, RegExp]> = [
    ['a name without certificate or zone', { domainName: DOMAIN }, 'domainName', /certificateArn .* or hostedZoneId and hostedZoneName/],
    ['a certificate in another region', { domainName: DOMAIN, certificateArn: CERTIFICATE.replace('us-west-2', 'us-east-1') }, 'certificateArn', /in the deployment's region us-west-2 .*got one in us-east-1/],
    ['not a certificate ARN', { domainName: DOMAIN, certificateArn: 'arn:aws:iam::123456789012:role/x' }, 'certificateArn', /an ACM certificate ARN in us-west-2/],
    ['a certificate without a name', { certificateArn: CERTIFICATE }, 'certificateArn', /unset unless domainName/],
    ['a zone without a name', ZONE, 'hostedZoneId', /unset unless domainName/],
    ['a zone id without its name', { domainName: DOMAIN, hostedZoneId: ZONE.hostedZoneId }, 'hostedZoneName', /the name of the hosted zone Z0123456789ABCDEFGHIJ/],
    ['a zone name without its id', { domainName: DOMAIN, certificateArn: CERTIFICATE, hostedZoneName: 'example.com' }, 'hostedZoneName', /unset unless hostedZoneId/],
    ['a name outside the zone', { domainName: 'mlflow.example.org', ...ZONE }, 'domainName', /a name in the hosted zone example\.com/],
    ['a zone whose name only ends like the domain', { domainName: 'mlflow.notexample.com', ...ZONE }, 'domainName', /a name in the hosted zone example\.com/],
    ['an upper-case or bare name', { domainName: 'MLflow', certificateArn: CERTIFICATE }, 'domainName', /a DNS name/],
    ['the execute-api endpoint off without a domain', { disableExecuteApiEndpoint: true }, 'disableExecuteApiEndpoint', /false unless domainName/],
    ['an alarm address without monitoring', { monitoring: false, alarmEmail: 'ops@example.com' }, 'alarmEmail', /unless monitoring=true/],
    ['not an e-mail address', { alarmEmail: 'ops' }, 'alarmEmail', /an e-mail address/],
    ['a retention without backup', { backupRetentionDays: 7 }, 'backupRetentionDays', /unless backup=true/],
    ['a copy region without backup', { backupCopyRegion: 'us-east-1' }, 'backupCopyRegion', /unless backup=true/],
    ['the copy region the deployment\'s own', { backup: true, backupCopyRegion: 'us-west-2' }, 'backupCopyRegion', /other than the deployment's \(us-west-2\)/],
    ['a 401 threshold of 0', { alarmUnauthorizedPer5Min: 0 }, 'alarmUnauthorizedPer5Min', /from 1 to 100000/],
  ];
  for (const [what, settings, setting, allowed] of cases) {
    test(what, () => {
      assert.throws(() => resolvePlatformConfig(settings), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.setting, setting);
        assert.match(error.message, allowed);
        assert.equal(error.message.split('\n').length, 1);
        return true;
      });
    });
  }

  test('the good combinations pass', () => {
    assert.equal(resolvePlatformConfig({ domainName: 'example.com', ...ZONE }).domainName, 'example.com');
    assert.equal(resolvePlatformConfig({ domainName: DOMAIN, certificateArn: CERTIFICATE, ...ZONE }).certificateArn, CERTIFICATE);
    assert.equal(resolvePlatformConfig({ backup: 'true', backupRetentionDays: '7' }).backupRetentionDays, 7);
  });
});

describe('alarms and dashboard (monitoring, on by default)', () => {
  const platform = buildTestPlatform({ sagemaker: 'none', dbMaxCapacity: 8, alarmUnauthorizedPer5Min: 25, alarmEmail: 'ops@example.com' });
  const gateway = Template.fromStack(platform.gateway);
  const alarms = resourcesOfType(gateway, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const alarmNamed = (part: string) => {
    const found = alarms.filter((a) => JSON.stringify(a.AlarmName).includes(part));
    assert.equal(found.length, 1, `one alarm named *${part}*: ${alarms.map((a) => JSON.stringify(a.AlarmName)).join(', ')}`);
    return found[0];
  };
  const metricsOf = (alarm: any) => JSON.stringify(alarm.Metrics ?? { ns: alarm.Namespace, name: alarm.MetricName, dims: alarm.Dimensions });

  test('eight alarms in the gateway stack, none in the platform stack, each notifying the topic, none breaching on missing data', () => {
    assert.equal(alarms.length, 8);
    Template.fromStack(platform.mlflow).resourceCountIs('AWS::CloudWatch::Alarm', 0);
    const [[topicId]] = resourcesOfType(gateway, 'AWS::SNS::Topic');
    for (const alarm of alarms) {
      assert.deepEqual(alarm.AlarmActions, [{ Ref: topicId }], JSON.stringify(alarm.AlarmName));
      assert.equal(alarm.TreatMissingData, 'notBreaching');
      assert.equal(alarm.ActionsEnabled, true);
    }
  });

  test('the topic lets CloudWatch publish for this account\'s MLflow-* alarms, and every alarm\'s name is one of those', () => {
    const [[topicId]] = resourcesOfType(gateway, 'AWS::SNS::Topic');
    const statements = resourcesOfType(gateway, 'AWS::SNS::TopicPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const allow = statements.find((st: any) => st.Effect === 'Allow' && st.Principal?.Service === 'cloudwatch.amazonaws.com');
    assert.ok(allow, JSON.stringify(statements));
    assert.deepEqual([allow.Action, allow.Resource], ['sns:Publish', { Ref: topicId }]);
    assert.deepEqual(allow.Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    const arn = JSON.stringify(allow.Condition.ArnLike['aws:SourceArn']);
    assert.ok(arn.endsWith(':alarm:MLflow-*"]]}'), arn);
    for (const alarm of alarms) assert.match(alarm.AlarmName, /^MLflow-/);
  });

  test('tasks below desired: desired - running of the service (imported from the platform stack), >= 1 for 3 periods', () => {
    const alarm = alarmNamed('TasksBelowDesired');
    assert.equal(alarm.Threshold, ALARM_RULES.tasksBelowDesired.threshold);
    assert.equal(alarm.EvaluationPeriods, ALARM_RULES.tasksBelowDesired.periods);
    assert.ok(metricsOf(alarm).includes('desired - running'), metricsOf(alarm));
    assert.match(metricsOf(alarm), /MLflowVpcStack:ExportsOutput.*Service/);
  });

  test('task memory > 85 % for 3 periods', () => {
    const alarm = alarmNamed('Memory');
    assert.equal(alarm.Threshold, ALARM_RULES.taskMemoryPercent.threshold);
    assert.equal(alarm.EvaluationPeriods, ALARM_RULES.taskMemoryPercent.periods);
    assert.match(metricsOf(alarm), /MemoryUtilization/);
  });

  test('unhealthy targets and load-balancer 5xx on the front door\'s load balancer and target group', () => {
    const unhealthy = alarmNamed('Unhealthy');
    assert.equal(unhealthy.Threshold, ALARM_RULES.unhealthyTargets.threshold);
    assert.match(metricsOf(unhealthy), /UnHealthyHostCount/);
    assert.match(metricsOf(unhealthy), /TargetGroupFullName|LoadBalancerFullName/);
    const fiveXx = alarmNamed('FrontDoor5xx');
    assert.equal(fiveXx.Threshold, ALARM_RULES.frontDoor5xx.threshold);
    assert.match(metricsOf(fiveXx), /HTTPCode_ELB_5XX_Count/);
    assert.match(metricsOf(fiveXx), /HTTPCode_Target_5XX_Count/);
  });

  test('gateway 5xx on this stack\'s API', () => {
    const alarm = alarmNamed('Gateway');
    assert.equal(alarm.Threshold, ALARM_RULES.gateway5xx.threshold);
    assert.match(metricsOf(alarm), /5xx/);
    const [[apiId]] = resourcesOfType(gateway, 'AWS::ApiGatewayV2::Api');
    assert.ok(metricsOf(alarm).includes(`"Ref":"${apiId}"`), metricsOf(alarm));
  });

  test('401 spike: the alarmUnauthorizedPer5Min setting, on a metric filter of the proxy\'s log group', () => {
    const alarm = alarmNamed('Unauthorized');
    assert.equal(alarm.Threshold, 25);
    assert.match(metricsOf(alarm), new RegExp(UNAUTHORIZED_METRIC.metricName));
    const [[, filter]] = resourcesOfType(gateway, 'AWS::Logs::MetricFilter');
    assert.match(JSON.stringify(filter.Properties.LogGroupName), /MLflowVpcStack:ExportsOutputRefMlflowService/);
    assert.match(filter.Properties.FilterPattern, /status = 401/);
  });

  test('database at max: the threshold is dbMaxCapacity', () => {
    const alarm = alarmNamed('Database');
    assert.equal(alarm.Threshold, 8);
    assert.equal(alarm.EvaluationPeriods, ALARM_RULES.databaseAtMax.periods);
    assert.match(metricsOf(alarm), /ServerlessDatabaseCapacity/);
  });

  test('failed image builds: the account\'s FailedBuilds, importing nothing of the platform stack\'s CodeBuild project', () => {
    const alarm = alarmNamed('ImageBuild');
    assert.equal(alarm.Threshold, ALARM_RULES.failedBuilds.threshold);
    assert.match(metricsOf(alarm), /FailedBuilds/);
    assert.doesNotMatch(JSON.stringify(gateway.toJSON()), /ExportsOutputRefContainerImageBuild/);
  });

  test('the dashboard, the e-mail subscription and the topic output', () => {
    gateway.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    gateway.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: ALARM_DASHBOARD_NAME });
    gateway.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    assert.ok(gateway.toJSON().Outputs[GATEWAY_OUTPUTS.alarmTopicArn]);
  });

  test('imageBuild=local: no build to watch, seven alarms', () => {
    const local = Template.fromStack(buildTestPlatform({ sagemaker: 'none', imageBuild: 'local' }).gateway);
    assert.equal(resourcesOfType(local, 'AWS::CloudWatch::Alarm').length, 7);
  });

  const offPlatform = buildTestPlatform({ sagemaker: 'none', monitoring: false });

  test('monitoring=false: no alarm, topic, dashboard or metric filter', () => {
    const off = Template.fromStack(offPlatform.gateway);
    for (const type of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard', 'AWS::SNS::Topic', 'AWS::Logs::MetricFilter']) off.resourceCountIs(type, 0);
    assert.equal(off.toJSON().Outputs[GATEWAY_OUTPUTS.alarmTopicArn], undefined);
  });

  test('Container Insights on the cluster only with monitoring (the alarms are all that read it; it is charged per metric)', () => {
    const insights = (stack: import('aws-cdk-lib').Stack) => {
      const [[, cluster]] = resourcesOfType(Template.fromStack(stack), 'AWS::ECS::Cluster');
      return cluster.Properties.ClusterSettings;
    };
    assert.deepEqual(insights(platform.mlflow), [{ Name: 'containerInsights', Value: 'enabled' }]);
    // Off explicitly, so an account-wide default cannot turn it on.
    assert.deepEqual(insights(offPlatform.mlflow), [{ Name: 'containerInsights', Value: 'disabled' }]);
    const lean = buildTestPlatform({ sagemaker: 'none', profile: 'lean' });
    assert.deepEqual(insights(lean.mlflow), [{ Name: 'containerInsights', Value: 'disabled' }]);
    Template.fromStack(lean.gateway).resourceCountIs('AWS::CloudWatch::Alarm', 0);
    assert.deepEqual(insights(buildTestPlatform({ sagemaker: 'none', profile: 'lean', monitoring: true }).mlflow), [{ Name: 'containerInsights', Value: 'enabled' }]);
  });

  test('the platform stack exports what the alarms import, with monitoring on or off (turning it off can deploy)', () => {
    const exported = (template: Template) => Object.values<any>(template.toJSON().Outputs).filter((o) => o.Export).map((o) => o.Export.Name).sort();
    const imported = [...JSON.stringify(gateway.toJSON()).matchAll(/"Fn::ImportValue":"(MLflowVpcStack:[^"]+)"/g)].map((m) => m[1]);
    assert.ok(imported.length >= 7, imported.join(', '));
    const off = exported(Template.fromStack(offPlatform.mlflow));
    for (const name of imported) assert.ok(off.includes(name), `${name} is exported with monitoring=false`);
    assert.deepEqual(off, exported(Template.fromStack(platform.mlflow)));
  });
});

describe('backups (backup=true)', () => {
  test('off by default: no plan, no copy vault stack', () => {
    const platform = buildTestPlatform({ sagemaker: 'none' });
    Template.fromStack(platform.mlflow).resourceCountIs('AWS::Backup::BackupPlan', 0);
    assert.equal(platform.backupCopyVault, undefined);
  });

  const platform = buildTestPlatform({ sagemaker: 'none', backup: true, backupRetentionDays: 14 });
  const mlflow = Template.fromStack(platform.mlflow);

  test('a vault kept by a deletion or a replacement and deleted by the rollback of a failed create, a daily plan at 03:00 UTC kept backupRetentionDays, no copy', () => {
    const [[, vault]] = resourcesOfType(mlflow, 'AWS::Backup::BackupVault');
    // RetainExceptOnCreate: a failed first create takes its (empty) vault with it, so the retry does not meet it.
    assert.equal(vault.DeletionPolicy, 'RetainExceptOnCreate');
    assert.equal(vault.UpdateReplacePolicy, 'Retain');
    const [[, plan]] = resourcesOfType(mlflow, 'AWS::Backup::BackupPlan');
    const [rule] = plan.Properties.BackupPlan.BackupPlanRule;
    assert.equal(rule.ScheduleExpression, `cron(${BACKUP_DEFAULTS.schedule.minute} ${BACKUP_DEFAULTS.schedule.hour} * * ? *)`);
    assert.equal(rule.Lifecycle.DeleteAfterDays, 14);
    assert.deepEqual(rule.CopyActions ?? [], []);
    assert.equal(platform.backupCopyVault, undefined);
  });

  test('the vault\'s name is unique to the stack instance: a stack created again (after destroy, a failed create, for restore) gets a new one', () => {
    const [[vaultId, vault]] = resourcesOfType(mlflow, 'AWS::Backup::BackupVault');
    const nameIn = (uuid: string) => String(evaluateIntrinsic(vault.Properties.BackupVaultName, { 'AWS::StackId': stackIdOf(STACK_NAMES.mlflow, uuid) }));
    const first = nameIn('2f1c0e40-6a1b-11f1-9d3e-0a1b2c3d4e5f');
    const again = nameIn('8b7e5a10-7c2d-11f1-a1b2-06f5e4d3c2b1');
    assert.notEqual(first, again);
    for (const name of [first, again]) {
      assert.match(name, /^[a-zA-Z0-9_-]{2,50}$/, 'AWS Backup\'s vault-name rule');
      assert.ok(name.startsWith(BACKUP_DEFAULTS.vaultNamePrefix), name);
    }
    assert.equal(first, 'mlflow-backup-2f1c0e40-6a1b-11f1-9d3e-0a1b2c3d4e5f');
    // The plan names this vault (by reference), whatever its name.
    const [[, plan]] = resourcesOfType(mlflow, 'AWS::Backup::BackupPlan');
    assert.deepEqual(plan.Properties.BackupPlan.BackupPlanRule[0].TargetBackupVault, { 'Fn::GetAtt': [vaultId, 'BackupVaultName'] });
  });

  test('the selection is the database cluster and the artifact bucket', () => {
    const [[, selection]] = resourcesOfType(mlflow, 'AWS::Backup::BackupSelection');
    const resources = JSON.stringify(selection.Properties.BackupSelection.Resources);
    assert.match(resources, /rds:.*cluster:/);
    assert.match(resources, /BackendStore/);
    assert.match(resources, /ArtifactStore.*Arn/);
    assert.equal(selection.Properties.BackupSelection.Resources.length, 2);
  });

  test('failed jobs go to the alarm topic through a rule in the gateway stack (none without monitoring)', () => {
    const gateway = Template.fromStack(platform.gateway);
    const [[topicId]] = resourcesOfType(gateway, 'AWS::SNS::Topic');
    gateway.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.backup'], detail: { state: ['FAILED', 'ABORTED', 'EXPIRED'] } },
      Targets: [Match.objectLike({ Arn: { Ref: topicId } })],
    });
    Template.fromStack(buildTestPlatform({ sagemaker: 'none', backup: true, monitoring: false }).gateway).resourceCountIs('AWS::Events::Rule', 0);
  });

  test('destroyDataOnDelete: the vaults are kept all the same (AWS Backup refuses to delete one with recovery points: DELETE_FAILED)', () => {
    const throwaway = buildTestPlatform({ sagemaker: 'none', backup: true, backupCopyRegion: 'eu-central-1', destroyDataOnDelete: true });
    for (const stack of [throwaway.mlflow, throwaway.backupCopyVault!]) {
      const [[, vault]] = resourcesOfType(Template.fromStack(stack), 'AWS::Backup::BackupVault');
      assert.equal(vault.DeletionPolicy, 'RetainExceptOnCreate', stack.stackName);
      assert.equal(vault.UpdateReplacePolicy, 'Retain', stack.stackName);
    }
    // The rest of the data does go with the stack.
    const [[, bucket]] = resourcesOfType(Template.fromStack(throwaway.mlflow), 'AWS::S3::Bucket');
    assert.equal(bucket.DeletionPolicy, 'Delete');
  });

  test('backupCopyRegion: copies to the copy vault, whose stack is in that region, retained, and deployed first', () => {
    const copying = buildTestPlatform({ sagemaker: 'none', backup: true, backupCopyRegion: 'eu-central-1' });
    const [[, plan]] = resourcesOfType(Template.fromStack(copying.mlflow), 'AWS::Backup::BackupPlan');
    const [copy] = plan.Properties.BackupPlan.BackupPlanRule[0].CopyActions;
    assert.match(JSON.stringify(copy.DestinationBackupVaultArn), new RegExp(`:eu-central-1:.*backup-vault:${BACKUP_DEFAULTS.copyVaultName}`));
    assert.equal(copy.Lifecycle.DeleteAfterDays, BACKUP_DEFAULTS.retentionDays);
    const vaultStack = copying.backupCopyVault!;
    assert.equal(vaultStack.stackName, STACK_NAMES.backupCopyVault);
    assert.equal(vaultStack.region, 'eu-central-1');
    const [[, vault]] = resourcesOfType(Template.fromStack(vaultStack), 'AWS::Backup::BackupVault');
    assert.equal(vault.Properties.BackupVaultName, BACKUP_DEFAULTS.copyVaultName);
    assert.equal(vault.DeletionPolicy, 'RetainExceptOnCreate', 'a failed first create of the copy stack deletes its (empty) vault');
    assert.equal(vault.UpdateReplacePolicy, 'Retain');
    assert.ok(copying.mlflow.dependencies.includes(vaultStack), 'the platform stack is deployed after the copy vault');
  });
});
