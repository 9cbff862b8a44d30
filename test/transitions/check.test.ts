/**
 * The transition check (src/transition/check.ts) on small hand-made template pairs: each kind of problem is found, and
 * its look-alikes that CloudFormation takes through are not. The real assemblies are in releases.test.ts and
 * switches.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Assembly, Template } from '../../src/transition/assembly';
import { checkFreshDeploy, checkUpdate, fixedName } from '../../src/transition/check';

const assembly = (stacks: Record<string, Template>, order = Object.keys(stacks)): Assembly => ({ stacks, order });
const exportOf = (name: string, value: unknown) => ({ Value: value, Export: { Name: name } });
const importing = (name: string): Template => ({
  Resources: { Policy: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::ImportValue': name } }] } } } },
});
const queue = (props: Record<string, unknown> = {}) => ({ Type: 'AWS::SQS::Queue', Properties: props });
const role = (props: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] }, ...props }, ...extra,
});
const producer = (outputs: Record<string, unknown>, resources: Record<string, unknown> = { Queue: queue() }): Template => ({ Resources: resources, Outputs: outputs } as Template);

describe('transition check: exports', () => {
  const deployed = assembly({ Producer: producer({ QueueArn: exportOf('Producer:QueueArn', { 'Fn::GetAtt': ['Queue', 'Arn'] }) }), Consumer: importing('Producer:QueueArn') });

  test('an export removed while a deployed stack imports it', () => {
    const next = assembly({ Producer: producer({}), Consumer: importing('Producer:QueueArn') });
    assert.deepEqual(checkUpdate(deployed, next), [
      'Producer: export Producer:QueueArn removed while Consumer (deployed) imports it',
      'Consumer: imports Producer:QueueArn, which no deployed stack exports when Consumer is deployed',
    ]);
  });

  test('a stack the next assembly no longer has stays deployed and keeps importing', () => {
    const next = assembly({ Producer: producer({}) });
    assert.deepEqual(checkUpdate(deployed, next), ['Producer: export Producer:QueueArn removed while Consumer (deployed) imports it']);
  });

  test('an export removed after its importer was updated to stop importing it passes', () => {
    const next = assembly({ Producer: producer({}), Consumer: { Resources: { Queue: queue() } } }, ['Consumer', 'Producer']);
    assert.deepEqual(checkUpdate(deployed, next), []);
  });

  test('an export removed that nobody imports passes', () => {
    const alone = assembly({ Producer: deployed.stacks.Producer });
    assert.deepEqual(checkUpdate(alone, assembly({ Producer: producer({}) })), []);
  });

  test('an export whose value changes while it is imported', () => {
    const next = assembly({ Producer: producer({ QueueArn: exportOf('Producer:QueueArn', { 'Fn::GetAtt': ['Queue', 'QueueName'] }) }), Consumer: importing('Producer:QueueArn') });
    assert.deepEqual(checkUpdate(deployed, next), ['Producer: export Producer:QueueArn changed while Consumer (deployed) imports it']);
  });

  test('an export whose text stays but whose resource is replaced (a create-only property changed)', () => {
    const next = assembly({ Producer: producer({ QueueArn: exportOf('Producer:QueueArn', { 'Fn::GetAtt': ['Queue', 'Arn'] }) }, { Queue: queue({ FifoQueue: true }) }), Consumer: importing('Producer:QueueArn') });
    assert.deepEqual(checkUpdate(deployed, next), ['Producer: export Producer:QueueArn changed (Queue replaced) while Consumer (deployed) imports it']);
  });

  test('an import of an export no deployed stack has when the importer is deployed', () => {
    const next = assembly({ Consumer: importing('Producer:QueueArn'), Producer: deployed.stacks.Producer }, ['Consumer', 'Producer']);
    assert.deepEqual(checkUpdate(assembly({}), next), ['Consumer: imports Producer:QueueArn, which no deployed stack exports when Consumer is deployed']);
  });
});

describe('transition check: weak references (Fn::GetStackOutput)', () => {
  const reading = (output: string, tag = 'a'): Template => ({
    Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: tag, KmsMasterKeyId: { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: output, Region: 'us-west-2' } } } } },
  });
  const deployed = assembly({ Producer: producer({ QueueArn: { Value: { 'Fn::GetAtt': ['Queue', 'Arn'] } } }), Consumer: reading('QueueArn') });

  test('an output the producer no longer has', () => {
    const next = assembly({ Producer: producer({}), Consumer: reading('QueueArn') });
    assert.deepEqual(checkUpdate(deployed, next), [
      'Producer: output QueueArn removed; Consumer reads it with Fn::GetStackOutput',
      'Consumer: Fn::GetStackOutput Producer/QueueArn: Producer has no such output when Consumer is deployed',
    ]);
  });

  test('an output whose value changes under a consumer that is not updated afterwards: stale', () => {
    const next = assembly({ Producer: producer({ QueueArn: { Value: { 'Fn::GetAtt': ['Queue', 'QueueName'] } } }), Consumer: reading('QueueArn') });
    assert.deepEqual(checkUpdate(deployed, next), ['Producer: output QueueArn changed; Consumer reads it with Fn::GetStackOutput and is not updated after it, so it keeps the old value']);
  });

  test('a changed output passes when the consumer is updated after the producer', () => {
    const next = assembly({ Producer: producer({ QueueArn: { Value: { 'Fn::GetAtt': ['Queue', 'QueueName'] } } }), Consumer: reading('QueueArn', 'b') });
    assert.deepEqual(checkUpdate(deployed, next), []);
  });
});

describe('transition check: replacements', () => {
  test('a replaced resource that keeps its fixed name collides', () => {
    const deployed = assembly({ S: { Resources: { Role: role({ RoleName: 'fixed', Path: '/a/' }) } } });
    const next = assembly({ S: { Resources: { Role: role({ RoleName: 'fixed', Path: '/b/' }) } } });
    assert.deepEqual(checkUpdate(deployed, next), ['S: Role (AWS::IAM::Role) is replaced (Path) but keeps its fixed RoleName "fixed": the new one cannot be created beside the old one']);
  });

  test('a replacement with a new name, or a generated one, passes (roles hold no data)', () => {
    const deployed = assembly({ S: { Resources: { Role: role({ RoleName: 'fixed', Path: '/a/' }), Other: role({ Path: '/a/' }) } } });
    const next = assembly({ S: { Resources: { Role: role({ RoleName: 'fixed-2', Path: '/b/' }), Other: role({ Path: '/b/' }) } } });
    assert.deepEqual(checkUpdate(deployed, next), []);
  });

  test('a name made of pseudo parameters is fixed; one with the stack ID or a resource reference is not', () => {
    assert.ok(fixedName(role({ RoleName: { 'Fn::Join': ['-', ['lab', { Ref: 'AWS::Region' }]] } })));
    assert.equal(fixedName(role({ RoleName: { 'Fn::Join': ['-', ['lab', { Ref: 'AWS::StackId' }]] } })), undefined);
    assert.equal(fixedName(role({ RoleName: { 'Fn::GetAtt': ['Queue', 'QueueName'] } })), undefined);
    assert.equal(fixedName(role()), undefined);
  });

  test('a data-holding resource replaced: lost data, unless the pair lists it as intended', () => {
    const deployed = assembly({ S: { Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: {} } } } });
    const next = assembly({ S: { Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { ObjectLockEnabled: true } } } } });
    assert.deepEqual(checkUpdate(deployed, next), ['S: Bucket (AWS::S3::Bucket) is replaced (ObjectLockEnabled): stored objects would be lost; not an intended replacement']);
    assert.deepEqual(checkUpdate(deployed, next, { intended: [{ stack: 'S', resource: 'Bucket', reason: 'test' }] }), []);
    assert.deepEqual(checkUpdate(deployed, next, { intended: [{ stack: 'Other', resource: 'Bucket', reason: 'another stack' }] }).length, 1);
  });

  test('a replacement propagates to the resources that reference the replaced one', () => {
    const deployed = assembly({ S: { Resources: {
      Key: { Type: 'AWS::KMS::Key', Properties: { KeySpec: 'SYMMETRIC_DEFAULT' } },
      Domain: { Type: 'AWS::SageMaker::Domain', Properties: { DomainName: 'd', KmsKeyId: { 'Fn::GetAtt': ['Fs', 'Arn'] } } },
      Fs: { Type: 'AWS::EFS::FileSystem', Properties: { Encrypted: true, KmsKeyId: { Ref: 'Key' } } },
    } } });
    const next = structuredClone(deployed) as Assembly;
    (next.stacks.S.Resources as any).Fs.Properties.Encrypted = false;
    assert.deepEqual(checkUpdate(deployed, next), [
      'S: Domain (AWS::SageMaker::Domain) is replaced (KmsKeyId) but keeps its fixed DomainName "d": the new one cannot be created beside the old one',
      'S: Domain (AWS::SageMaker::Domain) is replaced (KmsKeyId): the Studio home file system would be lost; not an intended replacement',
      'S: Fs (AWS::EFS::FileSystem) is replaced (Encrypted): a file system would be lost; not an intended replacement',
    ]);
  });

  test('a new logical ID with the fixed name of a resource that still exists (renamed in the stack, or moved between stacks)', () => {
    const deployed = assembly({ A: { Resources: { Old: role({ RoleName: 'fixed' }) } }, B: { Resources: {} } });
    assert.deepEqual(checkUpdate(deployed, assembly({ A: { Resources: { New: role({ RoleName: 'fixed' }) } }, B: { Resources: {} } })), [
      'A: new New (AWS::IAM::Role) has the fixed RoleName "fixed" of A/Old, which still exists when it is created',
    ]);
    // Moved to B, which is deployed before A drops it.
    assert.deepEqual(checkUpdate(deployed, assembly({ B: { Resources: { Moved: role({ RoleName: 'fixed' }) } }, A: { Resources: {} } }, ['B', 'A'])), [
      'B: new Moved (AWS::IAM::Role) has the fixed RoleName "fixed" of A/Old, which still exists when it is created',
    ]);
    // Dropped from A first: passes.
    assert.deepEqual(checkUpdate(deployed, assembly({ A: { Resources: {} }, B: { Resources: { Moved: role({ RoleName: 'fixed' }) } } }, ['A', 'B'])), []);
  });

  test('a data-holding resource removed and deleted; retained or snapshotted ones keep their data', () => {
    const deployed = assembly({ S: { Resources: {
      Deleted: { Type: 'AWS::EFS::FileSystem', Properties: {} },
      Kept: { Type: 'AWS::EFS::FileSystem', Properties: {}, DeletionPolicy: 'Retain' },
      Snap: { Type: 'AWS::RDS::DBCluster', Properties: { Engine: 'aurora-mysql' }, DeletionPolicy: 'Snapshot' },
    } } });
    assert.deepEqual(checkUpdate(deployed, assembly({ S: { Resources: {} } })), [
      'S: Deleted (AWS::EFS::FileSystem) is removed and deleted (DeletionPolicy Delete): a file system would be lost; not an intended replacement',
    ]);
  });
});

describe('transition check: fresh deploy after destroy', () => {
  test('a retained resource with a fixed name collides with the kept one', () => {
    const fresh = assembly({ S: { Resources: {
      Vault: { Type: 'AWS::Backup::BackupVault', Properties: { BackupVaultName: 'vault' }, DeletionPolicy: 'Retain' },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Join': ['-', ['b', { Ref: 'AWS::AccountId' }]] } }, DeletionPolicy: 'RetainExceptOnCreate' },
      Generated: { Type: 'AWS::S3::Bucket', Properties: {}, DeletionPolicy: 'Retain' },
      PerStack: { Type: 'AWS::Backup::BackupVault', Properties: { BackupVaultName: { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] } }, DeletionPolicy: 'Retain' },
      Deleted: { Type: 'AWS::Backup::BackupVault', Properties: { BackupVaultName: 'other' } },
    } } });
    assert.deepEqual(checkFreshDeploy(fresh), [
      'S: Vault (AWS::Backup::BackupVault) is retained (Retain) with the fixed BackupVaultName "vault": a retry after a failed create and a deploy after destroy would collide with the kept one',
      'S: Bucket (AWS::S3::Bucket) is retained (RetainExceptOnCreate) with the fixed BucketName {"Fn::Join":["-",["b",{"Ref":"AWS::AccountId"}]]}: a deploy after destroy would collide with the kept one',
    ]);
  });
});
