/**
 * The MLflow task as the stack defines it: the containers' environment and secret names read from the synthesized
 * `AWS::ECS::TaskDefinition`, so that the end-to-end suite runs the containers with exactly what ECS would give them.
 * Only what differs on loopback is substituted: addresses (bucket, database host and port) and secret values.
 * Anything else the stack passes as a CloudFormation expression, or a secret the harness does not know, fails loudly:
 * that is drift between the stack and the containers' contract.
 */
import { Template } from 'aws-cdk-lib/assertions';
import type { RawSettings } from '../../../src/app/config/platform-config';
import { CONTAINER_NAMES } from '../../../src/app/names';
import { buildTestPlatform } from '../../support/synth';

export interface ContainerContract {
  /** Plain values, or CloudFormation expressions (objects) for values known only at deploy time. */
  readonly environment: Readonly<Record<string, unknown>>;
  /** Names of the variables ECS fills from Secrets Manager. */
  readonly secrets: readonly string[];
}

export interface TaskContract {
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly mlflow: ContainerContract;
  readonly proxy: ContainerContract;
}

interface CfnContainer {
  Name: string;
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
}

/** Synthesizes the MLflowVpcStack with `settings` and reads its task definition. */
export function taskContract(settings: RawSettings = {}): TaskContract {
  const template = Template.fromStack(buildTestPlatform(settings).mlflow);
  const definitions = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  if (definitions.length !== 1) throw new Error(`expected one task definition, found ${definitions.length}`);
  const properties = definitions[0].Properties as { Cpu: string; Memory: string; ContainerDefinitions: CfnContainer[] };
  const container = (name: string): ContainerContract => {
    const found = properties.ContainerDefinitions.find((c) => c.Name === name);
    if (!found) throw new Error(`the task definition has no container named ${name}`);
    return {
      environment: Object.fromEntries((found.Environment ?? []).map((e) => [e.Name, e.Value])),
      secrets: (found.Secrets ?? []).map((s) => s.Name).sort(),
    };
  };
  return {
    cpu: Number(properties.Cpu),
    memoryMiB: Number(properties.Memory),
    mlflow: container(CONTAINER_NAMES.mlflow),
    proxy: container(CONTAINER_NAMES.proxy),
  };
}

/**
 * The container's environment with `addresses` put in place of the deploy-time expressions they stand for and
 * `secrets` as ECS would inject them. Throws when the stack passes an expression for any other variable, when a
 * substituted variable is not an expression in the stack (it would then not be an address the harness may change),
 * or when the secret names differ from the stack's.
 */
export function containerEnvironment(
  container: ContainerContract,
  addresses: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(container.environment)) {
    if (name in addresses) {
      if (typeof value === 'string') throw new Error(`${name} is a plain value in the stack (${value}), not a deploy-time address: the harness must not replace it`);
      env[name] = addresses[name];
    } else if (typeof value === 'string') {
      env[name] = value;
    } else {
      throw new Error(`the stack passes ${name} as a CloudFormation expression (${JSON.stringify(value)}); the harness does not know what it stands for on loopback`);
    }
  }
  for (const name of Object.keys(addresses)) {
    if (!(name in container.environment)) throw new Error(`the stack no longer sets ${name}`);
  }
  const given = Object.keys(secrets).sort();
  if (JSON.stringify(given) !== JSON.stringify(container.secrets)) {
    throw new Error(`the stack's secrets are ${container.secrets.join(', ')}; the harness provides ${given.join(', ')}`);
  }
  return { ...env, ...secrets };
}

/** The account the harness deploys "into" on loopback (moto's default account). */
export const LOOPBACK_ACCOUNT = '123456789012';

/**
 * A deploy-time value whose only unknowns are the account and the partition (a role ARN the stack builds from its
 * fixed name, as in MLFLOW_IAM_PRINCIPALS), as CloudFormation would render it in `account`. Any other expression
 * throws: the harness does not know what it stands for.
 */
export function renderForAccount(value: unknown, account: string = LOOPBACK_ACCOUNT, partition = 'aws'): string {
  if (typeof value === 'string') return value;
  const expression = value as Record<string, unknown> | null;
  if (expression && typeof expression === 'object' && Object.keys(expression).length === 1) {
    const ref = expression.Ref;
    if (ref === 'AWS::AccountId') return account;
    if (ref === 'AWS::Partition') return partition;
    const join = expression['Fn::Join'];
    if (Array.isArray(join) && join.length === 2 && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return join[1].map((part) => renderForAccount(part, account, partition)).join(join[0]);
    }
  }
  throw new Error(`not a value of the account and partition alone: ${JSON.stringify(value)}`);
}
