/**
 * The Cognito pre-token-generation trigger of a federated pool (src/lib/service/sso-groups-trigger/handler.js) with
 * events as Cognito sends them (version 1, the shape of the Cognito developer guide's example): a federated user's
 * provider groups (custom:groups, as Cognito stores a mapped SAML multi-valued attribute or OIDC array claim) join the
 * pool's own groups in cognito:groups; a user of the pool itself never gets groups from that attribute.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupsOf, handler } from '../../src/lib/service/sso-groups-trigger/handler';

/** A pre-token-generation event for the hosted sign-in (TokenGeneration_HostedAuth), as Cognito sends it. */
function event(userAttributes: Record<string, string>, groupsToOverride: string[] = []) {
  return {
    version: '1',
    triggerSource: 'TokenGeneration_HostedAuth',
    region: 'us-west-2',
    userPoolId: 'us-west-2_AbCdEfGhI',
    userName: userAttributes['cognito:user_status'] === 'EXTERNAL_PROVIDER' ? 'Company_ada@example.com' : '4a1b6c0e-9f3a-4b1e-8c1e-0d2f3a4b5c6d',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: {
      userAttributes: { sub: '4a1b6c0e-9f3a-4b1e-8c1e-0d2f3a4b5c6d', email: 'ada@example.com', ...userAttributes },
      groupConfiguration: { groupsToOverride, iamRolesToOverride: [], preferredRole: null },
    },
    response: { claimsOverrideDetails: null },
  };
}

const FEDERATED = {
  'cognito:user_status': 'EXTERNAL_PROVIDER',
  identities: '[{"userId":"ada@example.com","providerName":"Company","providerType":"SAML","issuer":null,"primary":true,"dateCreated":1733500000000}]',
};

describe('the groups in a mapped attribute, as Cognito stores it', () => {
  it('a SAML multi-valued attribute ("[a, b]"), an OIDC array claim (JSON), a single value; duplicates once', () => {
    assert.deepEqual(groupsOf('[mlflow-admins, analysts]'), ['mlflow-admins', 'analysts']);
    assert.deepEqual(groupsOf('["data-science","analysts","analysts"]'), ['data-science', 'analysts']);
    assert.deepEqual(groupsOf('analysts'), ['analysts']);
    assert.deepEqual(groupsOf('analysts,data-science'), ['analysts', 'data-science']);
  });

  it('nothing for no attribute or an empty list; names MLflow cannot carry (white space, "=", empty) are left out', () => {
    assert.deepEqual(groupsOf(undefined), []);
    assert.deepEqual(groupsOf(''), []);
    assert.deepEqual(groupsOf('[]'), []);
    assert.deepEqual(groupsOf('["Data Science","analysts","a=b",""]'), ['analysts']);
  });
});

describe('the pre-token-generation trigger', () => {
  it('a federated user: the provider\'s groups join the pool\'s in cognito:groups, and the provider\'s e-mail address counts as verified', async () => {
    const answer = await handler(event({ ...FEDERATED, 'custom:groups': '[mlflow-admins, analysts]' }, ['us-west-2_AbCdEfGhI_Company']));
    assert.deepEqual(answer.response, {
      claimsOverrideDetails: {
        claimsToAddOrOverride: { email_verified: 'true' },
        groupOverrideDetails: { groupsToOverride: ['us-west-2_AbCdEfGhI_Company', 'mlflow-admins', 'analysts'], iamRolesToOverride: [] },
      },
    });
  });

  it('a user of the pool itself keeps exactly the pool\'s groups: a custom:groups of theirs is ignored, their e-mail verification untouched', async () => {
    const answer = await handler(event({ 'cognito:user_status': 'CONFIRMED', email_verified: 'true', 'custom:groups': 'mlflow-admins' }, ['analysts']));
    assert.deepEqual(answer.response, {
      claimsOverrideDetails: { groupOverrideDetails: { groupsToOverride: ['analysts'], iamRolesToOverride: [] } },
    });
  });

  it('a federated user without groups at the provider keeps the pool\'s', async () => {
    const answer = await handler(event(FEDERATED, ['us-west-2_AbCdEfGhI_Company']));
    assert.deepEqual(answer.response.claimsOverrideDetails.groupOverrideDetails.groupsToOverride, ['us-west-2_AbCdEfGhI_Company']);
  });
});
