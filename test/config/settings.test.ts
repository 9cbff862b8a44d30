import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bool, ConfigError, defineSettings, integer, oneOf, resolveSettings, SettingDeclarations } from '../../src/app/config/declare';
import { ENVIRONMENT_SETTINGS, loadPlatformConfig } from '../../src/app/config/load';
import { DEFAULT_CONFIG, resolvePlatformConfig, SETTING_NAMES, SETTINGS } from '../../src/app/config/platform-config';
import { parseActiveHours, PROFILE_DEFAULTS, SETTING_GROUPS } from '../../src/app/config/settings';
import { generateDoc, replaceGeneratedSection, SETTINGS_DOC_PATH, settingsTable } from '../../scripts/generate-docs';

const context = (values: Record<string, unknown> = {}) => ({ getAllContext: () => values });
const doc = readFileSync(SETTINGS_DOC_PATH, 'utf8');
const settingsSection = doc.slice(doc.indexOf('<!-- settings:start -->'), doc.indexOf('<!-- settings:end -->'));

describe('docs/reference/settings.md is generated from the declarations', () => {
  test('its generated section is up to date', () => {
    assert.ok(generateDoc(SETTINGS_DOC_PATH, doc) === doc, 'docs/reference/settings.md differs from the declarations: run `npm run docs`');
  });

  test('every declared setting has its row', () => {
    assert.ok(settingsSection.length > 0, 'docs/reference/settings.md has the settings markers');
    const rows = settingsSection.split('\n').filter((line) => line.startsWith('| `'));
    assert.deepEqual(rows.map((row) => /^\| `([A-Za-z0-9]+)`/.exec(row)?.[1]), SETTING_NAMES);
  });

  test('a row says the default, the environment variables and what is allowed', () => {
    const row = (name: string) => settingsSection.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    assert.equal(row('region')?.split(' | ')[0], '| `region` (env `AWS_REGION`)');
    assert.match(row('account') ?? '', /^\| `account` \(env `AWS_ACCOUNT`, `CDK_DEFAULT_ACCOUNT`\) \| unset \| a 12-digit AWS account id \|/);
    assert.match(row('taskCpu') ?? '', /^\| `taskCpu` \| `1024` \(`512` with profile=lean\) \| one of the Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192, 16384 \|/);
    assert.match(row('domainId') ?? '', /\| unset: a new Studio domain \|/);
    assert.match(row('dbSnapshotUsername') ?? '', /\| `master` \(the original sample's\), only with `dbSnapshot` \|/);
  });

  test("the example message in the page's text is the one a bad value gets", () => {
    const example = /`(Invalid setting "taskCpu": got 1000; [^`]+)`/.exec(doc)?.[1];
    assert.ok(example, 'docs/reference/settings.md quotes an example message');
    assert.throws(() => loadPlatformConfig(context({ taskCpu: '1000' }), {}), (error: unknown) => error instanceof Error && error.message === example);
  });

  test('the text around the table is kept', () => {
    const changed = generateDoc(SETTINGS_DOC_PATH, doc.replace(settingsSection, '<!-- settings:start -->\nstale\n'));
    assert.equal(changed, doc);
  });
});

describe('replaceGeneratedSection', () => {
  const text = 'before\n<!-- cost:start -->\nold\nlines\n<!-- cost:end -->\nafter\n';

  test('replaces only what is between the markers of the named section', () => {
    assert.equal(replaceGeneratedSection(text, 'cost', 'new\n'), 'before\n<!-- cost:start -->\nnew\n<!-- cost:end -->\nafter\n');
  });

  test('a missing, repeated or misordered marker is an error, not a silent no-op', () => {
    assert.throws(() => replaceGeneratedSection(text, 'settings', 'x'), /<!-- settings:start --> and <!-- settings:end --> exactly once/);
    assert.throws(() => replaceGeneratedSection(`${text}<!-- cost:end -->\n`, 'cost', 'x'), /found 1 and 2/);
    assert.throws(() => replaceGeneratedSection('<!-- cost:end -->\n<!-- cost:start -->\n', 'cost', 'x'), /comes before/);
  });

  test('the table refuses text that markdown would eat or split', () => {
    const declarations = defineSettings({ x: { group: 'G', doc: 'names mlflow-<account>', parser: bool(), default: false } });
    assert.throws(() => settingsTable(declarations, ['G'], { x: false }), /backticks/);
    const ok = defineSettings({ x: { group: 'G', doc: 'names `mlflow-<account>`, a | b', parser: bool(), default: false } });
    assert.match(settingsTable(ok, ['G'], { x: false }), /names `mlflow-<account>`, a \\\| b \|$/);
    assert.throws(() => settingsTable(ok, ['H'], { x: false }), /Settings in no group of the settings table \(H\): x \(G\)/);
  });
});

describe('the declarations are the one source', () => {
  test('every setting is in a README group', () => {
    for (const [name, declaration] of Object.entries(SETTINGS)) {
      assert.ok((SETTING_GROUPS as readonly string[]).includes(declaration.group), `${name}: ${declaration.group}`);
    }
  });

  test('DEFAULT_CONFIG holds each declared default, the standard profile\'s, and nothing for the settings without one', () => {
    assert.deepEqual(Object.keys(DEFAULT_CONFIG), SETTING_NAMES);
    const standard: Record<string, unknown> = PROFILE_DEFAULTS.standard;
    for (const [name, declaration] of Object.entries(SETTINGS as SettingDeclarations)) {
      const value = (DEFAULT_CONFIG as Record<string, unknown>)[name];
      if (name in standard) {
        assert.equal(value, standard[name], `${name} has the standard profile's default`);
      } else if (typeof declaration.default === 'function' || declaration.default === undefined) {
        assert.equal(value, undefined, `${name} is unset when nothing is given`);
      } else {
        assert.equal(value, declaration.default, name);
      }
    }
    assert.deepEqual(
      SETTING_NAMES.filter((name) => (DEFAULT_CONFIG as Record<string, unknown>)[name] === undefined),
      ['account', 'databaseReplicaSyncSeconds', 'dbSnapshot', 'dbSnapshotUsername', 'dbSnapshotDatabaseName', 'artifactBucketName', 'domainName', 'certificateArn', 'hostedZoneId',
        'hostedZoneName', 'domainId', 'activeHours', 'activeHoursTimeZone', 'alarmEmail', 'backupRetentionDays', 'backupCopyRegion', 'authDefaultPermission', 'ssoIssuerUrl', 'ssoClientId', 'ssoClientSecretName', 'ssoAdminGroup',
        'ssoGroupPermissions', 'ssoGroupsClaim', 'ssoSessionRefreshSeconds', 'ssoTokenAudiences', 'ssoFederationSamlMetadataUrl', 'ssoFederationOidcIssuerUrl',
        'ssoFederationOidcClientId', 'ssoFederationOidcClientSecretName', 'ssoFederationEmailAttribute', 'ssoFederationGroupsAttribute', 'iamPrincipals'],
    );
  });

  test('the resolved configuration has exactly the declared settings, whatever else is given', () => {
    const config = resolvePlatformConfig({ region: 'eu-west-1', notASetting: 'x' } as never);
    assert.deepEqual(Object.keys(config), SETTING_NAMES);
  });

  test('the environment variables are those the declarations name, in their order', () => {
    assert.deepEqual(ENVIRONMENT_SETTINGS, [
      { variable: 'AWS_REGION', setting: 'region' },
      { variable: 'AWS_ACCOUNT', setting: 'account' },
      { variable: 'CDK_DEFAULT_ACCOUNT', setting: 'account' },
      { variable: 'DOMAIN_ID', setting: 'domainId' },
    ]);
    assert.equal(loadPlatformConfig(context(), { AWS_ACCOUNT: '123456789012', CDK_DEFAULT_ACCOUNT: '210987654321' }).account, '123456789012');
    assert.equal(loadPlatformConfig(context(), { AWS_ACCOUNT: '', CDK_DEFAULT_ACCOUNT: '210987654321' }).account, '210987654321');
    assert.equal(loadPlatformConfig(context(), { TASK_CPU: '2048', taskCpu: '2048' }).taskCpu, 1024, 'no other variable feeds a setting');
  });

  test('an unknown setting is refused with the list of every declared one', () => {
    assert.throws(() => loadPlatformConfig(context({ natGateway: 2 }), {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `Invalid setting "natGateway": got 2; allowed: a known setting name instead of "natGateway": ${[...SETTING_NAMES].sort().join(', ')}.`);
      return true;
    });
  });

  test('every declared setting is read from the CDK context', () => {
    const config = loadPlatformConfig(context({ vpcCidr: '10.1.0.0/16', servingImage: 'true', notebookVolumeSizeGiB: '30' }), {});
    assert.deepEqual([config.vpcCidr, config.servingImage, config.notebookVolumeSizeGiB], ['10.1.0.0/16', true, 30]);
  });
});

describe('defaults that depend on other settings (how a profile supplies defaults)', () => {
  // A throwaway table in the shape the coming `profile` setting will take: the profile is a setting, and the
  // defaults it changes are functions of it. A value the user gives always wins over the profile's.
  const PROFILE_DEFAULTS = { lean: { natGateways: 1, desiredTasks: 1 }, standard: { natGateways: 2, desiredTasks: 2 } } as const;
  const declarations = defineSettings({
    natGateways: { group: 'Network', doc: 'NAT gateways', parser: integer(1, 2), default: (s) => PROFILE_DEFAULTS[s.get('profile') as keyof typeof PROFILE_DEFAULTS].natGateways },
    desiredTasks: {
      group: 'Service',
      doc: 'tasks',
      parser: integer(1, 10),
      default: (s) => PROFILE_DEFAULTS[s.get('profile') as keyof typeof PROFILE_DEFAULTS].desiredTasks,
    },
    profile: { group: 'General', doc: 'sizing', parser: oneOf(['lean', 'standard'], 'profiles'), default: 'standard' },
  });

  test('the profile supplies the defaults, whichever order the settings are declared in', () => {
    assert.deepEqual({ ...resolveSettings(declarations, {}) }, { natGateways: 2, desiredTasks: 2, profile: 'standard' });
    assert.deepEqual({ ...resolveSettings(declarations, { profile: 'lean' }) }, { natGateways: 1, desiredTasks: 1, profile: 'lean' });
  });

  test("the user's explicit values override the profile's", () => {
    assert.deepEqual({ ...resolveSettings(declarations, { profile: 'lean', natGateways: '2' }) }, { natGateways: 2, desiredTasks: 1, profile: 'lean' });
  });

  test('a bad profile is reported as the profile, even when another setting read it first', () => {
    assert.throws(() => resolveSettings(declarations, { profile: 'huge' }), /Invalid setting "profile": got "huge"; allowed: one of the profiles: lean, standard\./);
  });

  test('a computed default goes through the parser like a given value', () => {
    const broken = defineSettings({ n: { group: 'G', doc: 'n', parser: integer(1, 2), default: () => 3 } });
    assert.throws(() => resolveSettings(broken, {}), /Invalid setting "n": got 3; allowed: a whole number from 1 to 2\./);
  });

  test('reading an undeclared setting or a circle of settings is a programming error, not a hang', () => {
    const undeclared = defineSettings({ a: { group: 'G', doc: 'a', parser: integer(1, 2), default: (s) => s.number('b') } });
    assert.throws(() => resolveSettings(undeclared, {}), /reads "b", which is not a declared setting/);
    const circle = defineSettings({
      a: { group: 'G', doc: 'a', parser: integer(1, 2), default: (s) => s.number('b') },
      b: { group: 'G', doc: 'b', parser: integer(1, 2), default: (s) => s.number('a') },
    });
    assert.throws(() => resolveSettings(circle, {}), /in a circle: a -> b -> a/);
    const mistyped = defineSettings({
      a: { group: 'G', doc: 'a', parser: integer(1, 2), default: (s) => (s.boolean('b') ? 1 : 2) },
      b: { group: 'G', doc: 'b', parser: integer(1, 2), default: 1 },
    });
    assert.throws(() => resolveSettings(mistyped, {}), /"b" is read as a boolean but resolves to 1/);
  });
});

/** The one-line error a configuration gets; fails when it is accepted. */
function message(raw: Record<string, unknown>): string {
  try {
    resolvePlatformConfig(raw as never);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail(`${JSON.stringify(raw)} was accepted`);
}

describe('profile', () => {

  test('lean gives its defaults: no NAT gateway, one 0.5 vCPU / 1 GiB ARM64 task (at most 2 with Aurora), the AWS managed Studio key, SQLite', () => {
    const lean = resolvePlatformConfig({ profile: 'lean' });
    assert.deepEqual(
      [lean.natGateways, lean.taskCpu, lean.taskMemoryMiB, lean.desiredTasks, lean.maxTasks, lean.taskArchitecture, lean.studioStorageKey, lean.database],
      [0, 512, 1024, 1, 1, 'arm64', 'aws-managed', 'sqlite'],
    );
    assert.equal(resolvePlatformConfig({ profile: 'lean', database: 'aurora' }).maxTasks, 2);
    assert.deepEqual(
      [DEFAULT_CONFIG.profile, DEFAULT_CONFIG.natGateways, DEFAULT_CONFIG.taskCpu, DEFAULT_CONFIG.taskMemoryMiB, DEFAULT_CONFIG.desiredTasks, DEFAULT_CONFIG.maxTasks, DEFAULT_CONFIG.taskArchitecture],
      ['standard', 1, 1024, 2048, 2, 6, 'x86_64'],
    );
  });

  test('each lean default can be overridden', () => {
    const lean = resolvePlatformConfig({ profile: 'lean', taskCpu: '1024', taskMemoryMiB: '2048', desiredTasks: 2, maxTasks: '4', taskArchitecture: 'x86_64', studioStorageKey: 'customer-managed', database: 'aurora' });
    assert.deepEqual([lean.taskCpu, lean.taskMemoryMiB, lean.desiredTasks, lean.maxTasks, lean.taskArchitecture, lean.studioStorageKey, lean.database], [1024, 2048, 2, 4, 'x86_64', 'customer-managed', 'aurora']);
  });

  test('a NAT gateway count the profile cannot use is one clear error', () => {
    assert.match(message({ profile: 'lean', natGateways: 1 }), /^Invalid setting "natGateways": got 1; allowed: 0 with profile=lean .*profile=standard\)\.$/);
    assert.match(message({ natGateways: '0' }), /^Invalid setting "natGateways": got "0"; allowed: 1 or 2 with profile=standard .*profile=lean\)\.$/);
    assert.equal(resolvePlatformConfig({ profile: 'lean', natGateways: '0' }).natGateways, 0);
  });

  test('an unknown profile is refused with the list', () => {
    assert.equal(message({ profile: 'tiny' }), 'Invalid setting "profile": got "tiny"; allowed: one of the profiles: standard, lean.');
  });
});

describe('database', () => {
  test('aurora in standard, sqlite in lean, as given otherwise; the sync interval 10 s only with sqlite', () => {
    assert.deepEqual([DEFAULT_CONFIG.database, DEFAULT_CONFIG.databaseReplicaSyncSeconds], ['aurora', undefined]);
    const lean = resolvePlatformConfig({ profile: 'lean' });
    assert.deepEqual([lean.database, lean.databaseReplicaSyncSeconds], ['sqlite', 10]);
    assert.equal(resolvePlatformConfig({ profile: 'lean', database: 'aurora' }).database, 'aurora');
    const standardSqlite = resolvePlatformConfig({ database: 'sqlite', databaseReplicaSyncSeconds: '60' });
    assert.deepEqual([standardSqlite.database, standardSqlite.desiredTasks, standardSqlite.maxTasks, standardSqlite.databaseReplicaSyncSeconds], ['sqlite', 1, 1, 60],
      'the task counts follow the database in the standard profile too');
  });

  test('an unknown engine is refused with the list', () => {
    assert.equal(message({ database: 'postgres' }), 'Invalid setting "database": got "postgres"; allowed: one of the database engines: aurora, sqlite.');
  });

  test('databaseReplicaSyncSeconds: 1 to 3600, and only with sqlite', () => {
    assert.equal(message({ profile: 'lean', databaseReplicaSyncSeconds: 0 }), 'Invalid setting "databaseReplicaSyncSeconds": got 0; allowed: a whole number of seconds from 1 to 3600.');
    assert.match(message({ profile: 'lean', databaseReplicaSyncSeconds: '3601' }), /^Invalid setting "databaseReplicaSyncSeconds": got "3601"; allowed: a whole number of seconds from 1 to 3600\.$/);
    assert.match(message({ databaseReplicaSyncSeconds: 10 }), /^Invalid setting "databaseReplicaSyncSeconds": got 10; allowed: unset unless database=sqlite/);
    assert.match(message({ profile: 'lean', database: 'aurora', databaseReplicaSyncSeconds: 10 }), /^Invalid setting "databaseReplicaSyncSeconds": got 10; allowed: unset unless database=sqlite/);
  });

  test('with sqlite, one task: more desired or a higher ceiling is one error naming the setting', () => {
    assert.match(message({ profile: 'lean', maxTasks: 2 }), /^Invalid setting "maxTasks": got 2; allowed: 1 with database=sqlite \(one task writes .*use database=aurora\)\.$/);
    assert.match(message({ database: 'sqlite', desiredTasks: '2' }), /^Invalid setting "desiredTasks": got "2"; allowed: 1 with database=sqlite /);
    assert.match(message({ database: 'sqlite', maxTasks: 6 }), /^Invalid setting "maxTasks": got 6; allowed: 1 with database=sqlite /);
    const one = resolvePlatformConfig({ profile: 'lean', desiredTasks: 1, maxTasks: '1' });
    assert.deepEqual([one.desiredTasks, one.maxTasks], [1, 1]);
  });

  test("every setting of the Aurora cluster given with sqlite is one error naming it, even at its default value", () => {
    const given: Record<string, unknown> = {
      dbMinCapacity: 0, dbMaxCapacity: 2, dbAutoPauseMinutes: 60, dbIdleDisconnectSeconds: 60, dbReadTimeoutSeconds: 60,
      dbBackupRetentionDays: 7, dbDeletionProtection: true, dbSnapshot: 'mlflow-before-move', dbSnapshotUsername: 'master', dbSnapshotDatabaseName: 'mlflowdb',
    };
    const dbSettings = Object.keys(SETTINGS).filter((name) => /^db[A-Z]/.test(name));
    assert.deepEqual(dbSettings.sort(), Object.keys(given).sort(), 'every db* setting is checked here');
    for (const [name, value] of Object.entries(given)) {
      assert.equal(message({ profile: 'lean', [name]: value }),
        `Invalid setting "${name}": got ${JSON.stringify(value)}; allowed: unset with database=sqlite (a setting of the Aurora cluster, which database=sqlite does not have; for it use database=aurora).`);
    }
    // With Aurora they are accepted as before.
    assert.equal(resolvePlatformConfig({ profile: 'lean', database: 'aurora', dbMinCapacity: 0.5 }).dbMinCapacity, 0.5);
  });
});

describe('activeHours and activeHoursTimeZone', () => {

  test('days and hours are read; the time zone defaults to UTC only with activeHours', () => {
    assert.deepEqual(parseActiveHours('MON-FRI 07:00-20:00'), { days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: { hour: 7, minute: 0 }, end: { hour: 20, minute: 0 } });
    assert.deepEqual(parseActiveHours('sat-mon,wed 08:30-18:15').days, ['MON', 'WED', 'SAT', 'SUN']);
    const config = resolvePlatformConfig({ activeHours: 'MON-FRI 07:00-20:00' });
    assert.deepEqual([config.activeHours, config.activeHoursTimeZone], [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: { hour: 7, minute: 0 }, end: { hour: 20, minute: 0 } }, 'UTC'], 'kept parsed');
    assert.equal(resolvePlatformConfig({ activeHours: 'MON 07:00-08:00', activeHoursTimeZone: 'Europe/Berlin' }).activeHoursTimeZone, 'Europe/Berlin');
    assert.equal(DEFAULT_CONFIG.activeHoursTimeZone, undefined);
  });

  test('each bad value is one error that names it and what is allowed', () => {
    assert.match(message({ activeHours: 'MON-FRI 20:00-07:00' }), /^Invalid setting "activeHours": got "MON-FRI 20:00-07:00"; allowed: an end time later than the start time/);
    assert.match(message({ activeHours: 'MON 09:00-09:00' }), /an end time later than the start time/);
    assert.match(message({ activeHours: 'MO-FR 07:00-20:00' }), /^Invalid setting "activeHours": got "MO-FR 07:00-20:00"; allowed: day names MON TUE WED THU FRI SAT SUN.*"MO-FR" is none of these\.$/);
    assert.match(message({ activeHours: 'MON-FRI 7:00-20:00' }), /allowed: days and hours such as "MON-FRI 07:00-20:00"/);
    assert.match(message({ activeHours: 'MON-FRI 07:00-24:00' }), /allowed: times from 00:00 to 23:59/);
    assert.match(message({ activeHours: 'MON-FRI 07:00-20:00', activeHoursTimeZone: 'Mars/Olympus' }), /^Invalid setting "activeHoursTimeZone": got "Mars\/Olympus"; allowed: an IANA time zone/);
    assert.match(message({ activeHoursTimeZone: 'Europe/Berlin' }), /^Invalid setting "activeHoursTimeZone": got "Europe\/Berlin"; allowed: unset unless activeHours/);
  });
});

describe('sleepAfterMinutes', () => {
  const message = (settings: Record<string, unknown>): string => {
    try {
      resolvePlatformConfig(settings as never);
    } catch (error) {
      return (error as Error).message;
    }
    return 'accepted';
  };

  test('off in standard, 30 minutes in lean, off with the job runner (whose schedule would stop), as given otherwise', () => {
    assert.equal(resolvePlatformConfig({}).sleepAfterMinutes, 0);
    assert.equal(resolvePlatformConfig({ profile: 'lean' }).sleepAfterMinutes, 30);
    assert.equal(resolvePlatformConfig({ profile: 'lean', mlflowBackgroundJobs: true, taskMemoryMiB: 4096 }).sleepAfterMinutes, 0);
    assert.equal(resolvePlatformConfig({ sleepAfterMinutes: '15' }).sleepAfterMinutes, 15);
    assert.equal(resolvePlatformConfig({ profile: 'lean', sleepAfterMinutes: 0 }).sleepAfterMinutes, 0);
  });

  test('dbAutoPauseMinutes: 5 (Aurora\'s least) in lean while the service sleeps, 60 otherwise, as given if given', () => {
    assert.equal(resolvePlatformConfig({ profile: 'lean' }).dbAutoPauseMinutes, 5);
    assert.equal(resolvePlatformConfig({ profile: 'lean', sleepAfterMinutes: 15 }).dbAutoPauseMinutes, 5);
    assert.equal(resolvePlatformConfig({ sleepAfterMinutes: 15 }).dbAutoPauseMinutes, 60);
    assert.equal(resolvePlatformConfig({}).dbAutoPauseMinutes, 60);
    assert.equal(resolvePlatformConfig({ profile: 'lean', sleepAfterMinutes: 0 }).dbAutoPauseMinutes, 60);
    assert.equal(resolvePlatformConfig({ profile: 'lean', database: 'aurora', dbAutoPauseMinutes: 45 }).dbAutoPauseMinutes, 45);
  });

  test('a bad value is one line naming the setting, the value and what is allowed', () => {
    for (const bad of [3, 1441, 'soon', 7.5, -1]) {
      assert.equal(message({ sleepAfterMinutes: bad }), `Invalid setting "sleepAfterMinutes": got ${JSON.stringify(bad)}; allowed: 0 (off) or a whole number of minutes from 5 to 1440.`);
    }
    assert.match(message({ sleepAfterMinutes: 15, mlflowBackgroundJobs: true, taskMemoryMiB: 4096 }),
      /^Invalid setting "sleepAfterMinutes": got 15; allowed: 0 \(off\) with mlflowBackgroundJobs=true \(the job runner's scheduled jobs would stop while the service sleeps\)\.$/);
  });
});
