/**
 * The monthly cost of a deployment, read from its synthesized CloudFormation templates and the price table
 * (prices.ts): what each resource costs while nobody uses MLflow ("idle"), and with a number of active hours.
 *
 * Every rule reads the resource's own properties (counts, sizes, architecture, capacities, schedules), so a new
 * configuration is priced without touching this file. A resource type without a rule and not declared free or
 * usage-based in prices.ts is listed as "not priced", never counted as 0.
 */
import { HOURS_PER_MONTH, NOTEBOOK_INSTANCE_PRICES, WORKING_DAYS_PER_MONTH, PRICES_AS_OF, PriceKey, PriceRegion, RESOURCE_TYPES, RegionalPrice, priceIn } from './prices';
import { ScheduledAction, scheduledTaskHoursPerMonth } from './schedule';
import { SQLITE_ENVIRONMENT, type DatabaseEngine } from '../lib/contract';
import { PLATFORM_DEFAULTS } from '../lib/defaults';

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
}

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
}

export interface StackTemplate {
  readonly stackName: string;
  readonly template: CfnTemplate;
}

export interface EstimateOptions {
  readonly region: PriceRegion;
  /** Hours a month someone uses MLflow (the second column). */
  readonly activeHours: number;
  /** After `pause`: every ECS service at 0 tasks (the database with MinCapacity 0 then pauses too). */
  readonly paused?: boolean;
  /**
   * Separate stretches of activity a month (a team's working days), each followed by `sleepAfterMinutes` of running
   * before a deployment that sleeps stops its tasks. @default WORKING_DAYS_PER_MONTH
   */
  readonly activeDays?: number;
}

export { WORKING_DAYS_PER_MONTH };

export interface CostLine {
  readonly item: string;
  readonly quantity: string;
  readonly unitPrice: string;
  /** USD a month while nobody uses MLflow. */
  readonly idle: number;
  /** USD a month with `activeHours` of use. */
  readonly active: number;
  /** Notes on the prices used: regional price not found, figure not confirmed. */
  readonly marks: readonly string[];
}

export interface ResourceTypeCount {
  readonly type: string;
  readonly count: number;
  readonly note: string;
}

export interface CostReport {
  readonly region: PriceRegion;
  readonly activeHours: number;
  readonly paused: boolean;
  readonly pricesAsOf: string;
  readonly lines: readonly CostLine[];
  readonly idleTotal: number;
  readonly activeTotal: number;
  /** Resources nothing priced: their cost is unknown, not zero. */
  readonly notPriced: readonly ResourceTypeCount[];
  readonly usageOnly: readonly ResourceTypeCount[];
  /** Assumptions behind the figures, one sentence each. */
  readonly assumptions: readonly string[];
  /** The backend store's engines in the templates (an Aurora cluster; a task definition with database=sqlite). */
  readonly databases: readonly DatabaseEngine[];
}

export const MARKS = {
  assumed: 'regional price not found: us-east-1 price used',
  unconfirmed: 'price not confirmed by a found page',
} as const;

/** The smallest capacity of a running (not paused) Aurora Serverless v2 instance. */
export const MIN_RUNNING_ACU = 0.5;

const PRICED = new Set<string>(RESOURCE_TYPES.priced);
const FREE: Readonly<Record<string, string>> = RESOURCE_TYPES.free;
const USAGE: Readonly<Record<string, string>> = RESOURCE_TYPES.usage;

/** A monthly amount, to the cent. */
const money = (usd: number): string => `$${usd.toFixed(2)}`;
/** A unit price as the table gives it. */
const unit = (usd: number): string => `$${usd}`;

function marksOf(...prices: RegionalPrice[]): string[] {
  const marks = new Set<string>();
  for (const p of prices) {
    if (p.assumed) marks.add(MARKS.assumed);
    if (!p.confirmed) marks.add(MARKS.unconfirmed);
  }
  return [...marks];
}

function refTarget(value: unknown): string | undefined {
  return value && typeof value === 'object' && typeof (value as { Ref?: unknown }).Ref === 'string' ? (value as { Ref: string }).Ref : undefined;
}

function num(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** Whether `value` (any CloudFormation expression) mentions the logical ID `id` in a Ref or Fn::GetAtt. */
function mentions(value: unknown, id: string): boolean {
  if (Array.isArray(value)) return value.some((v) => mentions(v, id));
  if (!value || typeof value !== 'object') return false;
  const obj = value as Record<string, unknown>;
  if (obj.Ref === id) return true;
  const getAtt = obj['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[0] === id) return true;
  return Object.values(obj).some((v) => mentions(v, id));
}

interface Context {
  readonly options: EstimateOptions;
  readonly lines: CostLine[];
  readonly notPriced: Map<string, { count: number; note: string }>;
  readonly assumptions: Set<string>;
  /** The backend store's engines priced: an Aurora cluster, a task definition with database=sqlite. */
  readonly databases: Set<DatabaseEngine>;
  /** `sleepAfterMinutes` of the deployment's sleep function (src/lib/operations/idle-sleep.ts), when it sleeps. */
  readonly sleepAfterMinutes?: number;
  price(key: PriceKey): RegionalPrice;
}

/**
 * The minutes after which the deployment sleeps: the environment of its sleep function (src/lib/operations/idle-sleep.ts),
 * in whichever stack; undefined when none.
 */
function sleepAfterMinutesOf(stacks: readonly StackTemplate[]): number | undefined {
  for (const { template } of stacks) {
    for (const resource of Object.values(template.Resources ?? {})) {
      const variables = resource.Type === 'AWS::Lambda::Function' ? resource.Properties?.Environment?.Variables : undefined;
      const minutes = num(variables?.SLEEP_AFTER_MINUTES);
      if (minutes !== undefined && variables?.WAKE_TASKS !== undefined) return minutes;
    }
  }
  return undefined;
}

/**
 * The minutes an Aurora cluster with MinCapacity 0 runs after the last request of a stretch of use: until MLflow's
 * last connection closes, then `SecondsUntilAutoPause` (`dbAutoPauseMinutes`). A deployment that sleeps closes it when
 * the service stops, `sleepAfterMinutes` later (at the latest: a UI tab left open holds a connection until then);
 * one that does not, when the pool's idle connections time out (the task's `DB_IDLE_DISCONNECT_SECONDS`).
 */
function pauseTail(ctx: Context, scaling: Record<string, any>, resources: Record<string, CfnResource>): { minutes: number; why: string } {
  const pause = (num(scaling.SecondsUntilAutoPause) ?? 300) / 60;
  if (ctx.sleepAfterMinutes !== undefined) {
    return {
      minutes: ctx.sleepAfterMinutes + pause,
      why: `the service sleeps ${ctx.sleepAfterMinutes} min after the last request (sleepAfterMinutes; a UI tab left open holds a connection until then), the database pauses ${pause} min later (dbAutoPauseMinutes)`,
    };
  }
  let idleSeconds: number | undefined;
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::ECS::TaskDefinition') continue;
    for (const container of resource.Properties?.ContainerDefinitions ?? []) {
      const value = (container?.Environment ?? []).find((e: any) => e?.Name === 'DB_IDLE_DISCONNECT_SECONDS')?.Value;
      if (num(value) !== undefined) idleSeconds = num(value);
    }
  }
  const disconnect = (idleSeconds ?? 0) / 60;
  return {
    minutes: disconnect + pause,
    why: `MLflow's last connection closes ${round(disconnect)} min after the last request (dbIdleDisconnectSeconds; never while a UI tab stays open), the database pauses ${pause} min later (dbAutoPauseMinutes)`,
  };
}

/** Litestream v0.5's compactions an hour per database file: its default levels every 30 s, 5 minutes and 1 hour (the daily snapshot is left out). */
export const LITESTREAM_COMPACTIONS_PER_HOUR = 3600 / 30 + 60 / 5 + 1;
/**
 * How often the container's Litestream checks its level-0 files for deletion (`l0-retention-check-interval` in the
 * configuration containers/mlflow/mlflow_db.py writes, its L0_RETENTION_CHECK_SECONDS; a test checks they agree).
 */
export const LITESTREAM_L0_RETENTION_CHECK_SECONDS = 300;
/**
 * Litestream's LIST requests an hour per database file while the task runs, writes or not: each L0 retention check
 * lists level 1 and then level 0.
 */
export const LITESTREAM_LISTS_PER_TASK_HOUR = 2 * (3600 / LITESTREAM_L0_RETENTION_CHECK_SECONDS);
/** Requests of one file's restore at a task's start: a listing per level (0 to 3 and the snapshot), and the files read (an upper bound). */
export const LITESTREAM_RESTORE_REQUESTS = { list: 5, get: 100 } as const;

/**
 * The most requests Litestream makes to S3 in an hour of use for one database file with `syncSeconds`, on top of its
 * listings: when MLflow wrote within every interval, an upload each (L0), the compactions' uploads and their reads of
 * the files below. With no write, none (it uploads and compacts only what changed).
 */
export function litestreamWriteRequestsPerHour(syncSeconds: number): { put: number; get: number } {
  const uploads = Math.ceil(3600 / syncSeconds);
  // Level 1 reads every L0 file, level 2 the 10 level-1 files of its 5 minutes, level 3 the 12 level-2 files of its hour.
  const compactionReads = uploads + (3600 / 30) + (60 / 5);
  return { put: uploads + LITESTREAM_COMPACTIONS_PER_HOUR, get: compactionReads };
}

/**
 * database=sqlite: the replica of a task definition whose MLflow container runs with DATABASE_ENGINE=sqlite: its sync
 * interval and the number of SQLite files (the permission database too with MLFLOW_AUTH, auth=users or sso).
 */
function sqliteReplicaOf(taskDefinition: CfnResource): { syncSeconds: number; databases: number } | undefined {
  for (const container of taskDefinition.Properties?.ContainerDefinitions ?? []) {
    const env = new Map<string, unknown>((container?.Environment ?? []).map((e: any) => [e?.Name, e?.Value]));
    if (env.get(SQLITE_ENVIRONMENT.engine) !== 'sqlite') continue;
    const syncSeconds = num(env.get(SQLITE_ENVIRONMENT.syncSeconds)) ?? PLATFORM_DEFAULTS.databaseReplicaSyncSeconds;
    return { syncSeconds, databases: env.has('MLFLOW_AUTH') ? 2 : 1 };
  }
  return undefined;
}

function notPriced(ctx: Context, type: string, note: string): void {
  const entry = ctx.notPriced.get(type);
  ctx.notPriced.set(type, { count: (entry?.count ?? 0) + 1, note: entry?.note ?? note });
}

/** Resources of one template, priced one rule per type. */
function priceTemplate(ctx: Context, { template }: StackTemplate): void {
  const resources = template.Resources ?? {};
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const hours = HOURS_PER_MONTH;
  const { activeHours, paused } = ctx.options;
  const add = (line: CostLine) => {
    // The same charge from several stacks (a key per SageMaker stack) is one line with the counts added.
    const same = ctx.lines.findIndex((l) => l.item === line.item && l.unitPrice === line.unitPrice && /^\d+$/.test(l.quantity) && /^\d+$/.test(line.quantity));
    if (same < 0) ctx.lines.push(line);
    else {
      const l = ctx.lines[same];
      ctx.lines[same] = { ...l, quantity: String(Number(l.quantity) + Number(line.quantity)), idle: l.idle + line.idle, active: l.active + line.active };
    }
  };

  // Flat monthly or hourly charges per resource, counted per type.
  const flat = (type: string, item: string, key: PriceKey, perMonth: (p: RegionalPrice) => number, filter: (r: CfnResource) => boolean = () => true) => {
    const found = ofType(type).filter(([, r]) => filter(r));
    if (found.length === 0) return;
    const p = ctx.price(key);
    const monthly = found.length * perMonth(p);
    add({ item, quantity: String(found.length), unitPrice: `${unit(p.usd)}/${p.unit}`, idle: monthly, active: monthly, marks: marksOf(p) });
  };
  flat('AWS::EC2::NatGateway', 'NAT gateway', 'natGatewayHour', (p) => p.usd * hours);
  flat('AWS::EC2::EIP', 'Elastic IP (public IPv4)', 'publicIpv4Hour', (p) => p.usd * hours);
  flat('AWS::SecretsManager::Secret', 'Secrets Manager secret', 'secretMonth', (p) => p.usd);
  flat('AWS::KMS::Key', 'KMS customer managed key', 'kmsKeyMonth', (p) => p.usd);
  flat('AWS::ServiceDiscovery::PrivateDnsNamespace', 'Cloud Map namespace (private hosted zone)', 'hostedZoneMonth', (p) => p.usd);
  flat('AWS::Route53::HostedZone', 'Route 53 hosted zone', 'hostedZoneMonth', (p) => p.usd);
  flat('AWS::CloudWatch::Alarm', 'CloudWatch alarm', 'alarmMonth', (p) => p.usd);
  flat('AWS::CloudWatch::Dashboard', 'CloudWatch dashboard', 'dashboardMonth', (p) => p.usd);

  // Interface endpoints: per subnet (one ENI per AZ); gateway endpoints (S3, DynamoDB) cost nothing.
  for (const [, endpoint] of ofType('AWS::EC2::VPCEndpoint')) {
    const kind = endpoint.Properties?.VpcEndpointType ?? 'Gateway';
    if (kind === 'Gateway') continue;
    const subnets = Array.isArray(endpoint.Properties?.SubnetIds) ? endpoint.Properties.SubnetIds.length : 0;
    if (kind !== 'Interface' || subnets === 0) {
      notPriced(ctx, 'AWS::EC2::VPCEndpoint', `${kind} endpoint${subnets === 0 ? ' without a subnet list' : ''}`);
      continue;
    }
    const p = ctx.price('interfaceEndpointHour');
    const monthly = subnets * p.usd * hours;
    add({ item: 'Interface VPC endpoint', quantity: `${subnets} AZ`, unitPrice: `${unit(p.usd)}/${p.unit}`, idle: monthly, active: monthly, marks: marksOf(p) });
  }

  // Application load balancers: hourly, plus one LCU during active hours (an ALB's LCU covers 25 new connections/s and 1 GB/h).
  for (const [, lb] of ofType('AWS::ElasticLoadBalancingV2::LoadBalancer')) {
    const type = lb.Properties?.Type ?? 'application';
    if (type !== 'application') {
      notPriced(ctx, 'AWS::ElasticLoadBalancingV2::LoadBalancer', `${type} load balancer`);
      continue;
    }
    const hourly = ctx.price('albHour');
    const lcu = ctx.price('albLcuHour');
    const idle = hourly.usd * hours;
    add({
      item: `Application load balancer (${lb.Properties?.Scheme ?? 'internet-facing'})`,
      quantity: '1',
      unitPrice: `${unit(hourly.usd)}/h + ${unit(lcu.usd)}/LCU-h`,
      idle,
      active: idle + lcu.usd * activeHours,
      marks: marksOf(hourly, lcu),
    });
    ctx.assumptions.add('Load balancer: no LCU while idle (health checks only); 1 LCU during each active hour.');
  }

  // ECS services on Fargate: tasks x (vCPU, memory) of their task definition, for the hours they run.
  for (const [serviceId, service] of ofType('AWS::ECS::Service')) {
    const props = service.Properties ?? {};
    const taskDefinition = resources[refTarget(props.TaskDefinition) ?? ''];
    const fargate = props.LaunchType === 'FARGATE' || (Array.isArray(props.CapacityProviderStrategy) && props.CapacityProviderStrategy.some((s: any) => s?.CapacityProvider === 'FARGATE'));
    const cpu = num(taskDefinition?.Properties?.Cpu);
    const memoryMiB = num(taskDefinition?.Properties?.Memory);
    if (!fargate || !taskDefinition || cpu === undefined || memoryMiB === undefined) {
      notPriced(ctx, 'AWS::ECS::Service', 'not a Fargate service with a task definition of known CPU and memory in the same template');
      continue;
    }
    const arm = taskDefinition.Properties?.RuntimePlatform?.CpuArchitecture === 'ARM64';
    const target = ofType('AWS::ApplicationAutoScaling::ScalableTarget').find(([, t]) => mentions(t.Properties?.ResourceId, serviceId))?.[1];
    const desired = num(props.DesiredCount) ?? num(target?.Properties?.MinCapacity) ?? 1;
    const actions: ScheduledAction[] = target?.Properties?.ScheduledActions ?? [];
    let taskHours = desired * hours;
    let when = 'always';
    /** Task-hours with `activeHours` of use, when they differ from those at idle (a deployment that sleeps). */
    let activeTaskHours: number | undefined;
    if (paused) {
      taskHours = 0;
      when = 'paused';
    } else if (actions.length > 0) {
      const scheduled = scheduledTaskHoursPerMonth(desired, { min: num(target?.Properties?.MinCapacity), max: num(target?.Properties?.MaxCapacity) }, actions);
      if (scheduled === undefined) {
        ctx.assumptions.add(`ECS service ${serviceId}: a scheduled action is not a weekly cron(...); priced as always running.`);
      } else {
        taskHours = scheduled;
        when = 'on its schedule';
      }
    }
    if (!paused && ctx.sleepAfterMinutes !== undefined) {
      // Asleep while nobody works; awake for the active hours and sleepAfterMinutes after each stretch of them.
      const days = ctx.options.activeDays ?? WORKING_DAYS_PER_MONTH;
      activeTaskHours = Math.min(taskHours, desired * (activeHours + days * (ctx.sleepAfterMinutes / 60)));
      taskHours = 0;
      when = `asleep when idle; with use, the active hours + ${ctx.sleepAfterMinutes} min on each of ${round(days)} days`;
      ctx.assumptions.add(`Sleep: no task while nobody works; a task runs for the active hours and ${ctx.sleepAfterMinutes} minutes (sleepAfterMinutes) after each of ${round(days)} stretches of them a month (one a working day); the starts on wake are not counted.`);
    }
    const usedTaskHours = activeTaskHours ?? taskHours;
    const vcpu = cpu / 1024;
    const gb = memoryMiB / 1024;
    const vcpuPrice = ctx.price(arm ? 'fargateArmVcpuHour' : 'fargateX86VcpuHour');
    const gbPrice = ctx.price(arm ? 'fargateArmGbHour' : 'fargateX86GbHour');
    const perTaskHour = vcpu * vcpuPrice.usd + gb * gbPrice.usd;
    add({
      item: `Fargate tasks, ${arm ? 'ARM64' : 'x86'} ${vcpu} vCPU / ${gb} GB`,
      quantity: `${round(usedTaskHours)} task-h (${desired} task${desired === 1 ? '' : 's'}, ${when})`,
      unitPrice: `${unit(vcpuPrice.usd)}/vCPU-h + ${unit(gbPrice.usd)}/GB-h`,
      idle: taskHours * perTaskHour,
      active: usedTaskHours * perTaskHour,
      marks: marksOf(vcpuPrice, gbPrice),
    });
    if (props.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
      const ip = ctx.price('publicIpv4Hour');
      add({ item: 'Public IPv4 of Fargate tasks', quantity: `${round(usedTaskHours)} address-h`, unitPrice: `${unit(ip.usd)}/${ip.unit}`, idle: taskHours * ip.usd, active: usedTaskHours * ip.usd, marks: marksOf(ip) });
    }
    ctx.assumptions.add('Fargate: the desired task count all month (or as scheduled); load-based scaling above it is not modelled.');

    // database=sqlite: Litestream's requests to the replica bucket while a task runs, and its restore at each start.
    const sqlite = sqliteReplicaOf(taskDefinition);
    if (sqlite) {
      ctx.databases.add('sqlite');
      const put = ctx.price('s3PutThousand');
      const get = ctx.price('s3GetThousand');
      const writing = litestreamWriteRequestsPerHour(sqlite.syncSeconds);
      const starts = paused ? 0 : ctx.sleepAfterMinutes !== undefined || when === 'on its schedule' ? ctx.options.activeDays ?? WORKING_DAYS_PER_MONTH : 0;
      const requests = (runningHours: number, writingHours: number, startsOf: number) => ({
        put: sqlite.databases * (runningHours * LITESTREAM_LISTS_PER_TASK_HOUR + writingHours * writing.put + startsOf * LITESTREAM_RESTORE_REQUESTS.list),
        get: sqlite.databases * (writingHours * writing.get + startsOf * LITESTREAM_RESTORE_REQUESTS.get),
      });
      const cost = (r: { put: number; get: number }) => (r.put / 1000) * put.usd + (r.get / 1000) * get.usd;
      // Idle: nobody writes; a task that runs anyway lists, and a scheduled one restores at each start.
      const idleRequests = requests(taskHours, 0, taskHours > 0 ? starts : 0);
      const activeRequests = requests(usedTaskHours, Math.min(activeHours, usedTaskHours), starts);
      add({
        item: 'S3 requests of the database replica (Litestream)',
        quantity: `${round(activeRequests.put / 1000)}k PUT/LIST + ${round(activeRequests.get / 1000)}k GET (${sqlite.databases} database${sqlite.databases === 1 ? '' : 's'}, a sync every ${sqlite.syncSeconds} s, ${round(starts)} starts)`,
        unitPrice: `${unit(put.usd)}/1k PUT + ${unit(get.usd)}/1k GET`,
        idle: cost(idleRequests),
        active: cost(activeRequests),
        marks: marksOf(put, get),
      });
      ctx.assumptions.add(`SQLite (database=sqlite), per database file (${sqlite.databases}: tracking${sqlite.databases > 1 ? ' and permissions' : ''}): while a task runs Litestream lists its replica ${LITESTREAM_LISTS_PER_TASK_HOUR} times an hour (its L0 retention check every ${LITESTREAM_L0_RETENTION_CHECK_SECONDS} s); `
        + `in each active hour, an upper bound, it uploads at every sync (every ${sqlite.syncSeconds} s; only when MLflow wrote, so reading, the UI's polling included, uploads nothing) and compacts (levels every 30 s, 5 min, 1 h: `
        + `${LITESTREAM_COMPACTIONS_PER_HOUR} uploads, reading the files compacted): ${writing.put} PUT and ${writing.get} GET requests more; each start restores (${LITESTREAM_RESTORE_REQUESTS.list} LIST and at most ${LITESTREAM_RESTORE_REQUESTS.get} GET requests; `
        + `${round(starts)} starts a month: a wake or scheduled start a working day, none for an always-on task). No Aurora and no database secret; the replica's storage is usage (below).`);
    }

    // Container Insights of the service's cluster: custom metrics, charged by the hour while the service has a task
    // running (none are sent otherwise), whatever the number of tasks.
    const cluster = resources[refTarget(props.Cluster) ?? ''];
    const insights = cluster?.Type === 'AWS::ECS::Cluster' && Array.isArray(cluster.Properties?.ClusterSettings)
      ? cluster.Properties.ClusterSettings.find((setting: any) => setting?.Name === 'containerInsights')?.Value
      : undefined;
    if (insights === 'enhanced') {
      notPriced(ctx, 'AWS::ECS::Cluster', 'Container Insights with enhanced observability (per-task and per-container metrics)');
    } else if (insights === 'enabled') {
      const p = ctx.price('containerInsightsServiceMonth');
      const runningHours = (h: number) => (desired > 0 ? Math.min(h / desired, hours) : 0);
      add({
        item: 'Container Insights (ECS service metrics)',
        quantity: `${round(runningHours(usedTaskHours))} h with a task running`,
        unitPrice: `${unit(p.usd)}/${p.unit}`,
        idle: p.usd * (runningHours(taskHours) / hours),
        active: p.usd * (runningHours(usedTaskHours) / hours),
        marks: marksOf(p),
      });
      ctx.assumptions.add('Container Insights: its metrics are charged for the hours the service has a task running (AWS sends none otherwise).');
    }
  }

  // Aurora Serverless v2: ACUs of each db.serverless instance. MinCapacity 0: paused while idle.
  for (const [clusterId, cluster] of ofType('AWS::RDS::DBCluster')) {
    ctx.databases.add('aurora');
    const scaling = cluster.Properties?.ServerlessV2ScalingConfiguration;
    const min = num(scaling?.MinCapacity);
    if (!scaling || min === undefined) {
      notPriced(ctx, 'AWS::RDS::DBCluster', 'not an Aurora Serverless v2 cluster');
      continue;
    }
    const instances = ofType('AWS::RDS::DBInstance').filter(([, i]) => mentions(i.Properties?.DBClusterIdentifier, clusterId) && i.Properties?.DBInstanceClass === 'db.serverless').length;
    if (instances === 0) {
      notPriced(ctx, 'AWS::RDS::DBCluster', 'an Aurora Serverless v2 cluster without a db.serverless instance in the same template');
      continue;
    }
    const acu = ctx.price('auroraAcuHour');
    const runningAcu = Math.max(min, MIN_RUNNING_ACU);
    let idle: number;
    let active: number;
    let quantity: string;
    if (min === 0) {
      const tail = pauseTail(ctx, scaling, resources);
      const days = activeHours > 0 ? ctx.options.activeDays ?? WORKING_DAYS_PER_MONTH : 0;
      const runningHours = Math.min(hours, activeHours + days * (tail.minutes / 60));
      idle = 0;
      active = paused ? 0 : instances * runningAcu * runningHours * acu.usd;
      quantity = `${instances} instance${instances === 1 ? '' : 's'}, paused at idle, ${runningAcu} ACU for ${round(runningHours)} h with use`;
      ctx.assumptions.add(`Aurora with MinCapacity 0: paused (0 ACU) while idle; ${MIN_RUNNING_ACU} ACU (more under load, up to MaxCapacity) for the active hours and, after each of ${round(days)} stretches of them, ${tail.minutes} minutes until it pauses: ${tail.why}.`);
    } else {
      idle = instances * min * hours * acu.usd;
      active = idle;
      quantity = `${instances} instance${instances === 1 ? '' : 's'} x ${min} ACU always`;
      ctx.assumptions.add('Aurora with MinCapacity above 0: never pauses; priced at MinCapacity all month.');
    }
    add({ item: 'Aurora Serverless v2', quantity, unitPrice: `${unit(acu.usd)}/${acu.unit}`, idle, active, marks: marksOf(acu) });
  }

  // SageMaker notebook instances: in service from deploy on, billed hourly, plus their volume.
  for (const [, notebook] of ofType('AWS::SageMaker::NotebookInstance')) {
    const type = notebook.Properties?.InstanceType;
    const key = typeof type === 'string' ? NOTEBOOK_INSTANCE_PRICES[type] : undefined;
    if (!key) {
      notPriced(ctx, 'AWS::SageMaker::NotebookInstance', `instance type ${String(type)} not in the price table`);
      continue;
    }
    const p = ctx.price(key);
    const storage = ctx.price('sagemakerMlStorageGbMonth');
    const volume = num(notebook.Properties?.VolumeSizeInGB) ?? 5;
    const monthly = p.usd * hours + volume * storage.usd;
    add({ item: `SageMaker notebook instance ${type}`, quantity: `1, ${volume} GB volume`, unitPrice: `${unit(p.usd)}/h + ${unit(storage.usd)}/GB-month`, idle: monthly, active: monthly, marks: marksOf(p, storage) });
    ctx.assumptions.add('SageMaker notebook instance: InService all month (it starts at deploy); stopping it in the console stops the hourly charge.');
  }

  for (const [, resource] of Object.entries(resources)) {
    if (!PRICED.has(resource.Type) && FREE[resource.Type] === undefined && USAGE[resource.Type] === undefined) {
      notPriced(ctx, resource.Type, 'no rule or declaration in src/cost/prices.ts');
    }
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function estimateCost(stacks: readonly StackTemplate[], options: EstimateOptions): CostReport {
  if (!Number.isFinite(options.activeHours) || options.activeHours < 0 || options.activeHours > HOURS_PER_MONTH) {
    throw new RangeError(`active hours must be between 0 and ${HOURS_PER_MONTH}, got ${options.activeHours}`);
  }
  const ctx: Context = {
    options,
    lines: [],
    notPriced: new Map(),
    assumptions: new Set(),
    databases: new Set(),
    sleepAfterMinutes: sleepAfterMinutesOf(stacks),
    price: (key) => priceIn(key, options.region),
  };
  const usage = new Map<string, number>();
  for (const stack of stacks) {
    priceTemplate(ctx, stack);
    for (const resource of Object.values(stack.template.Resources ?? {})) {
      if (USAGE[resource.Type] !== undefined) usage.set(resource.Type, (usage.get(resource.Type) ?? 0) + 1);
    }
  }
  const sum = (pick: (l: CostLine) => number) => ctx.lines.reduce((total, line) => total + pick(line), 0);
  return {
    region: options.region,
    activeHours: options.activeHours,
    paused: options.paused === true,
    pricesAsOf: PRICES_AS_OF,
    lines: ctx.lines,
    idleTotal: sum((l) => l.idle),
    activeTotal: sum((l) => l.active),
    notPriced: [...ctx.notPriced].map(([type, { count, note }]) => ({ type, count, note })),
    usageOnly: [...usage].map(([type, count]) => ({ type, count, note: USAGE[type] })),
    assumptions: [...ctx.assumptions],
    databases: [...ctx.databases],
  };
}

export { money as formatUsd };
