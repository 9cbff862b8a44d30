import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { STSServiceException } from '@aws-sdk/client-sts';
import { ConfigError } from '../../src/app/config/platform-config';
import { EXIT, isStackMissing, toCliError } from '../../src/cli/errors';
import { accessDenied, credentialsError, stackMissing, unknownRegionError } from './helpers';

const ctx = { region: 'us-west-2', account: '123456789012', action: 'doing a thing' };

function sts(name: string, message: string): Error {
  return new STSServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 403 }, message });
}

describe('toCliError', () => {
  it('maps each failure to its exit code', () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [credentialsError(), EXIT.noCredentials, /No AWS credentials found while doing a thing/],
      [sts('ExpiredToken', 'The security token included in the request is expired'), EXIT.noCredentials, /have expired/],
      [sts('InvalidClientTokenId', 'The security token included in the request is invalid.'), EXIT.noCredentials, /rejected the credentials in region us-west-2/],
      [sts('UnrecognizedClientException', 'The security token included in the request is invalid.'), EXIT.noCredentials, /rejected the credentials/],
      [accessDenied('cloudformation:DescribeStacks'), EXIT.accessDenied, /missing permission cloudformation:DescribeStacks/],
      [accessDenied('ecs:DescribeServices', 'AccessDeniedException'), EXIT.accessDenied, /missing permission ecs:DescribeServices/],
      [stackMissing('HttpGatewayStack'), EXIT.notDeployed, /Stack HttpGatewayStack is not deployed in account 123456789012, region us-west-2/],
      [unknownRegionError('us-west-9'), EXIT.wrongTarget, /Cannot reach AWS in region "us-west-2"/],
      [Object.assign(new Error('a request has exceeded the configured 30000 ms requestTimeout.'), { name: 'TimeoutError', $metadata: { attempts: 3 } }), EXIT.wrongTarget, /No answer from AWS in region "us-west-2" while doing a thing after 3 attempts: a request has exceeded/],
      [new ConfigError('natGateways', 7, 'a whole number from 1 to 2'), EXIT.usage, /Invalid setting "natGateways"/],
      [new Error('something else'), EXIT.failure, /something else/],
    ];
    for (const [error, code, message] of cases) {
      const result = toCliError(error, ctx);
      assert.equal(result.exitCode, code, `${String(error)} -> ${result.message}`);
      assert.match(result.message, message);
    }
  });

  it('the hints of the credential and region errors name the fix', () => {
    assert.match(toCliError(sts('InvalidClientTokenId', 'invalid'), ctx).hint ?? '', /opt-in region/);
    assert.match(toCliError(stackMissing('MLflowVpcStack'), ctx).hint ?? '', /AWS_REGION or pass --region/);
  });

  it('isStackMissing only matches the CloudFormation "does not exist" ValidationError', () => {
    assert.equal(isStackMissing(stackMissing('X')), true);
    assert.equal(isStackMissing(accessDenied('cloudformation:DescribeStacks')), false);
    assert.equal(isStackMissing(Object.assign(new Error('Template format error'), { name: 'ValidationError' })), false);
  });
});
