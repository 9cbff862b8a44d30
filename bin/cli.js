#!/usr/bin/env node
// The `mlflow-on-aws` command (package.json "bin"). The CLI is TypeScript, run through tsx like the CDK app
// (cdk.json "app": "node --import tsx bin/mlflow-on-aws.ts"), so there is no build step and no compiled copy to go
// stale.
'use strict';

let register;
try {
  ({ register } = require('tsx/cjs/api'));
} catch {
  process.stderr.write('mlflow-on-aws: the project dependencies are not installed. Run `npm ci` in the project folder, then try again.\n');
  process.exit(1);
}
register();
require('../src/cli/main.ts').main();
