/**
 * database=sqlite: the Litestream replica in the database replica bucket, and the copies of it the CLI keeps there.
 * The one place that copies and replaces objects of that bucket, for `upgrade` (a copy of the replica taken with every
 * task stopped), `upgrade --rollback` and `restore --backup` (the replica replaced by such a copy), and that reads its
 * newest upload for `status`.
 *
 * Layout (src/lib/contract.ts): Litestream writes under `<SQLITE_REPLICA_PREFIX>/` (one path per SQLite file); a copy is
 * `<SQLITE_BACKUP_PREFIX>/<id>/<SQLITE_REPLICA_PREFIX>/...`, the same keys below it, with
 * `id = <UTC yyyymmddThhmmssZ>-mlflow-<MLflow version the replica was written by>`. Copies are kept until someone deletes
 * them. The bucket is versioned, so replacing the replica deletes nothing for good: the replaced objects stay as
 * noncurrent versions. Each copy is checked by listing it (same keys, same sizes) before the caller goes on.
 */
import { Stack } from '@aws-sdk/client-cloudformation';
import { CopyObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { MLFLOW_OUTPUTS } from '../app/names';
import { SQLITE_BACKUP_PREFIX, SQLITE_REPLICA_PREFIX, SQLITE_WRITER_MARKER } from '../lib/contract';
import { errorContext, stackOutputs, Target } from './aws';
import { CliError, EXIT, toCliError } from './errors';

/** The replica of a database=sqlite deployment: its bucket (the MLflowVpcStack output). */
export interface SqliteReplica {
  readonly bucket: string;
}

/** One object as listed: its key and size (bytes), and when it was written. */
export interface ReplicaObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
}

/** A copy of the replica under `<SQLITE_BACKUP_PREFIX>/<id>/`. */
export interface ReplicaBackup {
  readonly id: string;
  /** The MLflow release whose replica was copied (from the id); undefined for a copy named otherwise. */
  readonly mlflowVersion?: string;
  readonly objects: number;
  readonly bytes: number;
}

/** The database replica of the deployed MLflowVpcStack, or undefined when it has none (database=aurora). */
export function sqliteReplicaOf(stack: Stack | undefined): SqliteReplica | undefined {
  const bucket = stackOutputs(stack)[MLFLOW_OUTPUTS.databaseReplicaBucketName];
  return bucket ? { bucket } : undefined;
}

/** `s3://<bucket>/<SQLITE_REPLICA_PREFIX>`: where Litestream writes (as the container is told). */
export function replicaUrl(replica: SqliteReplica): string {
  return `s3://${replica.bucket}/${SQLITE_REPLICA_PREFIX}`;
}

/** The folder of a copy: `<SQLITE_BACKUP_PREFIX>/<id>/`. */
export function backupFolder(id: string): string {
  return `${SQLITE_BACKUP_PREFIX}/${id}/`;
}

/** The id of a copy taken at `now` of the replica written by MLflow `version`: `20260115T120000Z-mlflow-3.13.0`. */
export function backupId(now: Date, version: string): string {
  return `${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}-mlflow-${version}`;
}

const ID_PATTERN = /^\d{8}T\d{6}Z-mlflow-(.+)$/;

/** Every object under `prefix` (s3:ListObjectsV2, page by page). */
export async function listObjects(target: Target, bucket: string, prefix: string): Promise<ReplicaObject[]> {
  const objects: ReplicaObject[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await target.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    } catch (error) {
      throw toCliError(error, errorContext(target, `listing s3://${bucket}/${prefix} (s3:ListBucket)`));
    }
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) objects.push({ key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** The newest object of the replica (Litestream's last upload), or undefined when it holds none. */
export async function newestUpload(target: Target, replica: SqliteReplica): Promise<ReplicaObject | undefined> {
  const objects = await replicaObjects(target, replica);
  return objects.reduce<ReplicaObject | undefined>((newest, object) =>
    (!newest || (object.lastModified?.getTime() ?? 0) > (newest.lastModified?.getTime() ?? 0) ? object : newest), undefined);
}

/**
 * Litestream's objects under `<SQLITE_REPLICA_PREFIX>/`: not the writer marker (SQLITE_WRITER_MARKER), which says which
 * task writes, is no data, and in a copy put back would make the next start wait for a task that is gone.
 */
export async function replicaObjects(target: Target, replica: SqliteReplica): Promise<ReplicaObject[]> {
  const marker = `${SQLITE_REPLICA_PREFIX}/${SQLITE_WRITER_MARKER}`;
  return (await listObjects(target, replica.bucket, `${SQLITE_REPLICA_PREFIX}/`)).filter((object) => object.key !== marker);
}

/** The copies under `<SQLITE_BACKUP_PREFIX>/`, newest first (ids start with their UTC time). */
export async function listBackups(target: Target, replica: SqliteReplica): Promise<ReplicaBackup[]> {
  const byId = new Map<string, { objects: number; bytes: number }>();
  for (const object of await listObjects(target, replica.bucket, `${SQLITE_BACKUP_PREFIX}/`)) {
    const id = object.key.slice(SQLITE_BACKUP_PREFIX.length + 1).split('/')[0];
    if (!id) continue;
    const entry = byId.get(id) ?? { objects: 0, bytes: 0 };
    byId.set(id, { objects: entry.objects + 1, bytes: entry.bytes + object.size });
  }
  return [...byId.entries()]
    .map(([id, entry]) => ({ id, mlflowVersion: ID_PATTERN.exec(id)?.[1], ...entry }))
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * Copies every object under `<SQLITE_REPLICA_PREFIX>/` to `<SQLITE_BACKUP_PREFIX>/<id>/<SQLITE_REPLICA_PREFIX>/`
 * (s3:CopyObject, the bucket's encryption as it is) and checks the copy by listing it. Call it with no task running.
 */
export async function copyReplicaToBackup(target: Target, replica: SqliteReplica, id: string): Promise<ReplicaBackup> {
  const source = await replicaObjects(target, replica);
  if (source.length === 0) {
    throw new CliError(`The database replica ${replicaUrl(replica)} holds no object: there is nothing to copy, and an upgrade without a copy would have no way back.`,
      EXIT.failure, 'Start MLflow (`npx mlflow-on-aws resume`) and check its log: Litestream uploads the database within seconds of the start.');
  }
  const destination = `${backupFolder(id)}${SQLITE_REPLICA_PREFIX}/`;
  await copyAll(target, replica.bucket, source, `${SQLITE_REPLICA_PREFIX}/`, destination);
  await verifyCopy(target, replica.bucket, source, `${SQLITE_REPLICA_PREFIX}/`, destination);
  return { id, mlflowVersion: ID_PATTERN.exec(id)?.[1], objects: source.length, bytes: source.reduce((sum, o) => sum + o.size, 0) };
}

/**
 * Replaces the replica by the copy `id`: deletes every object under `<SQLITE_REPLICA_PREFIX>/` (the bucket is versioned:
 * they stay as noncurrent versions), copies the copy's objects there and checks the result by listing it. Call it with
 * no task running. Returns the number of objects deleted and copied.
 */
export async function replaceReplicaByBackup(target: Target, replica: SqliteReplica, id: string): Promise<{ deleted: number; copied: number }> {
  const from = `${backupFolder(id)}${SQLITE_REPLICA_PREFIX}/`;
  const backup = await listObjects(target, replica.bucket, from);
  if (backup.length === 0) {
    throw new CliError(`No copy ${id} of the database replica: s3://${replica.bucket}/${from} holds no object.`, EXIT.usage,
      'List the copies: npx mlflow-on-aws restore --list');
  }
  const current = await listObjects(target, replica.bucket, `${SQLITE_REPLICA_PREFIX}/`);
  for (let start = 0; start < current.length; start += 1000) {
    const batch = current.slice(start, start + 1000);
    let errors: Array<{ Key?: string; Code?: string }> | undefined;
    try {
      errors = (await target.clients.s3.send(new DeleteObjectsCommand({
        Bucket: replica.bucket, Delete: { Objects: batch.map((o) => ({ Key: o.key })), Quiet: true },
      }))).Errors;
    } catch (error) {
      throw toCliError(error, errorContext(target, `deleting the objects under ${replicaUrl(replica)} (s3:DeleteObject)`));
    }
    if (errors?.length) {
      throw new CliError(`Deleting the objects under ${replicaUrl(replica)} failed for ${errors.length}: ${errors.slice(0, 3).map((e) => `${e.Key} (${e.Code})`).join(', ')}.`,
        EXIT.failure, 'MLflow stays stopped. The bucket is versioned, so nothing is lost; fix the cause and run the command again.');
    }
  }
  await copyAll(target, replica.bucket, backup, from, `${SQLITE_REPLICA_PREFIX}/`);
  await verifyCopy(target, replica.bucket, backup, from, `${SQLITE_REPLICA_PREFIX}/`);
  return { deleted: current.length, copied: backup.length };
}

async function copyAll(target: Target, bucket: string, objects: readonly ReplicaObject[], fromPrefix: string, toPrefix: string): Promise<void> {
  for (const object of objects) {
    const key = `${toPrefix}${object.key.slice(fromPrefix.length)}`;
    try {
      await target.clients.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${object.key.split('/').map(encodeURIComponent).join('/')}` }));
    } catch (error) {
      throw toCliError(error, errorContext(target, `copying s3://${bucket}/${object.key} to ${key} (s3:GetObject, s3:PutObject)`));
    }
  }
}

/** Lists `toPrefix` and compares it with `objects` (below `fromPrefix`): the same keys with the same sizes, nothing more. */
async function verifyCopy(target: Target, bucket: string, objects: readonly ReplicaObject[], fromPrefix: string, toPrefix: string): Promise<void> {
  const expected = new Map(objects.map((o) => [o.key.slice(fromPrefix.length), o.size]));
  const found = new Map((await listObjects(target, bucket, toPrefix)).map((o) => [o.key.slice(toPrefix.length), o.size]));
  const wrong = [
    ...[...expected].filter(([key, size]) => found.get(key) !== size).map(([key, size]) => `${key} (${size} bytes, copy: ${found.has(key) ? `${found.get(key)} bytes` : 'missing'})`),
    ...[...found.keys()].filter((key) => !expected.has(key)).map((key) => `${key} (not in the source)`),
  ];
  if (wrong.length > 0) {
    throw new CliError(`The copy in s3://${bucket}/${toPrefix} does not match s3://${bucket}/${fromPrefix}: ${wrong.length} object(s) differ, e.g. ${wrong.slice(0, 3).join('; ')}.`,
      EXIT.failure, 'MLflow stays stopped. Run the command again; if it fails the same way, compare the two folders in the S3 console.');
  }
}
