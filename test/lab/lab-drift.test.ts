/**
 * The lab cannot drift from the stacks: lab-settings.json is what the CDK app generates now, the
 * requirements pin the server's MLflow version, and the lab names the deployed system only through
 * lookups in lab-settings.json that exist in the app.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import {
  LAB_REQUIREMENTS, LAB_SETTINGS_PATH, REPO_ROOT,
  buildLabSettings, pinMlflow, pinRequirement, planLabFiles, renderLabSettings, repositoryPlatformConfig, requirementLine,
} from '../../scripts/generate-lab-settings';
import { LabPackagePins, labPackagePins, pinnedRequirements, SAGEMAKER_SDK_VERSION } from '../../src/lib/sagemaker/lab-packages';
import { DEFAULT_CONFIG, resolvePlatformConfig } from '../../src/app/config/platform-config';
import { IPYKERNEL_VERSION, labKernelScript, LIFECYCLE_SCRIPT_MAX_BASE64, onStartScript, studioJupyterLabScript } from '../../src/lib/sagemaker/notebook-instance';
import { GATEWAY_OUTPUTS, MLFLOW_OUTPUTS, STACK_NAMES } from '../../src/app/names';
import { Contract, LAB_DIR, allUnits, contractViolations, inspect, listFiles, resolvePath } from './lab-tools';

const config = repositoryPlatformConfig();
const contract: Contract = {
  stackNames: Object.values(STACK_NAMES),
  outputKeys: [...Object.values(GATEWAY_OUTPUTS), ...Object.values(MLFLOW_OUTPUTS)],
  secretName: config.mlflowSecretName,
  mlflowVersion: config.mlflowVersion,
  sagemakerSdkVersion: SAGEMAKER_SDK_VERSION,
};
const pins = labPackagePins(config);
const DOCS = join(REPO_ROOT, 'docs', 'guides', 'lab.md');

function labCodeAndTexts() {
  const codeFiles = [...listFiles(LAB_DIR, ['.py']), ...listFiles(LAB_DIR, ['.ipynb'])];
  const inspection = inspect(codeFiles);
  const texts = [
    ...inspection.files.flatMap((file) => (file.markdown ?? []).map((text, i) => ({ where: `${file.path}#markdown${i}`, text }))),
    ...listFiles(LAB_DIR, ['.txt', '.md']).map((path) => ({ where: path, text: readFileSync(join(REPO_ROOT, path), 'utf8') })),
    { where: relative(REPO_ROOT, DOCS), text: readFileSync(DOCS, 'utf8') },
  ];
  return { units: allUnits(inspection), texts };
}

describe('lab settings generated from the CDK app', () => {
  it('lab/lab-settings.json is exactly what `npm run lab:settings` generates now', () => {
    assert.equal(readFileSync(LAB_SETTINGS_PATH, 'utf8'), renderLabSettings(buildLabSettings()), 'run `npm run lab:settings` and commit lab/lab-settings.json');
  });

  it('carries the names contract and configuration of the app', () => {
    const settings = JSON.parse(readFileSync(LAB_SETTINGS_PATH, 'utf8'));
    assert.deepEqual(settings.stacks, STACK_NAMES);
    assert.deepEqual(settings.outputs.gateway, GATEWAY_OUTPUTS);
    assert.deepEqual(settings.outputs.mlflow, MLFLOW_OUTPUTS);
    assert.equal(settings.mlflowVersion, config.mlflowVersion);
    assert.equal(settings.sagemakerSdkVersion, SAGEMAKER_SDK_VERSION);
    assert.equal(settings.mlflowSecretName, config.mlflowSecretName);
    assert.equal(settings.defaultRegion, config.region);
  });

  it('follows a change of configuration (the generator is not a copy of today\'s values)', () => {
    const changed = buildLabSettings(resolvePlatformConfig({ mlflowVersion: '9.8.7', mlflowSecretName: 'other-secret', region: 'eu-west-1' }));
    assert.equal(changed.mlflowVersion, '9.8.7');
    assert.equal(changed.mlflowSecretName, 'other-secret');
    assert.equal(changed.defaultRegion, 'eu-west-1');
    assert.notEqual(renderLabSettings(changed), readFileSync(LAB_SETTINGS_PATH, 'utf8'));
    assert.equal(buildLabSettings(resolvePlatformConfig({})).mlflowVersion, DEFAULT_CONFIG.mlflowVersion);
  });

  it('every file the generator owns is up to date (`npm run lab:settings -- --check` would pass)', () => {
    const stale = planLabFiles().filter((plan) => plan.current !== plan.wanted).map((plan) => relative(REPO_ROOT, plan.path));
    assert.deepEqual(stale, [], 'run `npm run lab:settings` and commit the result');
  });
});

describe('every lab pin is the app\'s: the MLflow client at the server version, the SageMaker SDK at src/lib/sagemaker/lab-packages.ts', () => {
  /** Requirement lines of a file, comments and blanks left out. */
  const requirementLines = (path: string) => readFileSync(path, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

  for (const file of LAB_REQUIREMENTS) {
    const wanted = file.packages.map((name) => `${name}==${pins[name]}`);
    it(`${relative(REPO_ROOT, file.path)} pins ${wanted.join(', ')}, once each`, () => {
      const lines = requirementLines(file.path);
      for (const name of file.packages) {
        assert.deepEqual(lines.filter((line) => requirementLine(name).test(line)), [`${name}==${pins[name]}`]);
      }
    });
  }

  it('lab/requirements.txt is exactly the pins: nothing unpinned that pip could move under the SDK or the client', () => {
    const [kernel] = LAB_REQUIREMENTS;
    assert.deepEqual(requirementLines(kernel.path).sort(), pinnedRequirements(pins));
  });

  const scripts = {
    'the notebook instance\'s start-up script': onStartScript,
    'Studio\'s JupyterLab lifecycle script': studioJupyterLabScript,
  } as const;
  for (const [name, script] of Object.entries(scripts)) {
    it(`${name} installs exactly the pins of lab/requirements.txt, ipykernel and the SigV4 provider, in the lab's own venv`, () => {
      const text = script({ trackingUri: 'https://x/iam', mlflowVersion: config.mlflowVersion, region: config.region });
      const installs = [...text.matchAll(/^ {2}"\$VENV\/bin\/python" -m pip install --quiet (.+)$/gm)].map((match) => match[1].split(' ').sort());
      assert.deepEqual(installs, [['"$LAB_DIR/mlflow-sigv4"', `ipykernel==${IPYKERNEL_VERSION}`, ...requirementLines(LAB_REQUIREMENTS[0].path)].sort()]);
      assert.equal([...text.matchAll(/pip install/g)].length, 1, 'no other install (the shared environments are left alone)');
    });

    it(`${name}, with the SigV4 provider's source in it, stays within SageMaker's 16384 base64 characters`, () => {
      const text = script({ trackingUri: 'https://0123456789.execute-api.xx-xxxx-1.amazonaws.com.cn/iam', mlflowVersion: config.mlflowVersion, region: config.region });
      const length = Buffer.from(text).toString('base64').length;
      assert.ok(length <= LIFECYCLE_SCRIPT_MAX_BASE64, `${length} characters`);
    });

    it(`${name} sets the kernel up with the shared part (labKernelScript), not a copy of it`, () => {
      const settings = { trackingUri: 'https://x/iam', mlflowVersion: config.mlflowVersion, region: config.region };
      assert.ok(script(settings).includes(labKernelScript(settings).join('\n')));
    });
  }

  it('the pins follow the configuration (a new server version moves the client pin everywhere)', () => {
    const changed = labPackagePins(resolvePlatformConfig({ mlflowVersion: '9.8.7' }));
    assert.deepEqual(changed, { mlflow: '9.8.7', sagemaker: SAGEMAKER_SDK_VERSION } satisfies LabPackagePins);
    assert.match(onStartScript({ trackingUri: 'https://x/iam', mlflowVersion: '9.8.7', region: 'us-west-2' }), /pip install --quiet mlflow==9\.8\.7 sagemaker==/);
    assert.match(studioJupyterLabScript({ trackingUri: 'https://x/iam', mlflowVersion: '9.8.7', region: 'us-west-2' }), /pip install --quiet mlflow==9\.8\.7 sagemaker==/);
  });

  it('pinRequirement rewrites a drifted, ranged or unpinned line of that package and nothing else', () => {
    const text = '# comment\nmlflow==2.9.2\nmlflow-skinny\nsagemaker>=2.200,<3\nsagemaker-core\n';
    assert.equal(pinMlflow(text, '3.13.0'), '# comment\nmlflow==3.13.0\nmlflow-skinny\nsagemaker>=2.200,<3\nsagemaker-core\n');
    assert.equal(pinRequirement(text, 'sagemaker', '3.27.0'), '# comment\nmlflow==2.9.2\nmlflow-skinny\nsagemaker==3.27.0\nsagemaker-core\n');
    assert.equal(pinMlflow('mlflow\n', '3.13.0'), 'mlflow==3.13.0\n');
    assert.equal(pinRequirement('sagemaker[local] ; python_version >= "3.10"\n', 'sagemaker', '3.27.0'), 'sagemaker==3.27.0\n');
  });
});

describe('the lab names the deployed system only through lab-settings.json', () => {
  const settings = buildLabSettings();

  it('has no lookup, hard-coded name, stack, secret or MLflow pin that differs from the app', () => {
    const { units, texts } = labCodeAndTexts();
    assert.deepEqual(contractViolations(units, texts, settings, contract), []);
  });

  it('reads the tracking URI from the gateway stack output, and the secret, bucket and version from the app', () => {
    const lookups = labCodeAndTexts().units.flatMap((unit) => unit.lookups).map((path) => resolvePath(settings, path));
    for (const needed of [
      STACK_NAMES.gateway, GATEWAY_OUTPUTS.trackingUri,
      STACK_NAMES.mlflow, MLFLOW_OUTPUTS.artifactBucketName, MLFLOW_OUTPUTS.mlflowCredentialsSecretName,
      config.mlflowSecretName, config.mlflowVersion, config.region,
    ]) {
      assert.ok(lookups.includes(needed), `the lab never looks up ${needed} in lab-settings.json`);
    }
  });

  it('reports drift in a lab file (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-drift-'));
    const drifted = join(dir, 'drifted.py');
    writeFileSync(drifted, [
      'uri = output_of(settings, cfn, "gateway", "trackingUrl")',        // renamed output key
      'region = lab_setting(settings, "region")',                        // no such setting
      'cfn.describe_stacks(StackName="HttpApiGatewayStack")',            // the seed's stack name
      'secrets.get_secret_value(SecretId="mlflow-server-credentials")',  // hard-coded secret name
      'bucket = stack_output(cfn, stack, "ArtifactBucketName")',         // hard-coded output key
      'print("mlflow==1.23.1")',                                         // old pin
      'print("pip install sagemaker>=2.200,<3")',                        // the v2 range
      `SDK = "${SAGEMAKER_SDK_VERSION}"`,                                 // hard-coded SDK version
    ].join('\n'));
    const units = allUnits(inspect([drifted]));
    const violations = contractViolations(units, [{ where: 'docs', text: 'Deploy the HttpApiGatewayStack, secret mlflow-credentials' }], settings, contract);
    const expected = [
      /settings lookup outputs\.gateway\.trackingUrl does not exist/,
      /settings lookup region does not exist/,
      /describe_stacks\(StackName=\) is given the literal "HttpApiGatewayStack"/,
      /get_secret_value\(SecretId=\) is given the literal "mlflow-server-credentials"/,
      /stack_output is given the literal "ArtifactBucketName"/,
      /hard-codes the secret name "mlflow-server-credentials"/,
      /hard-codes the stack output key "ArtifactBucketName"/,
      /docs: names a stack HttpApiGatewayStack/,
      /docs: names a secret mlflow-credentials/,
      /pins mlflow==1\.23\.1/,
      /names sagemaker>=2\.200,<3; the lab pins sagemaker==/,
      /hard-codes the SageMaker SDK version/,
    ];
    for (const pattern of expected) {
      assert.ok(violations.some((violation) => pattern.test(violation)), `no violation matching ${pattern} in:\n${violations.join('\n')}`);
    }
  });
});
