'use strict';
/**
 * The pre-token-generation trigger of the stack's Cognito user pool when it federates a company provider
 * (`ssoFederationSamlMetadataUrl` or `ssoFederationOidcIssuerUrl`): Cognito puts only the pool's own groups in the ID
 * token's `cognito:groups`, so the provider's groups, which the pool keeps in the mapped attribute `custom:groups` at
 * each federated sign-in, are added there, where oauth2-proxy reads them (ssoGroupsClaim) for `ssoAdminGroup` and
 * `ssoGroupPermissions`. Only a federated user's attribute counts (Cognito's user status EXTERNAL_PROVIDER): the pool's
 * own users never get groups from it. A federated user's e-mail address is the provider's, which vouches for it:
 * `email_verified` is set (oauth2-proxy signs in verified addresses only). Runs as is on Lambda's Node.js runtime; no
 * dependencies.
 */

/** Group names oauth2-proxy and MLflow can carry: no commas (the header's separator), no white space, 1 to 256. */
const GROUP = /^[^\s,=]{1,256}$/;

/**
 * The groups in a mapped attribute's value, as Cognito stores it: a multi-valued SAML attribute or an OIDC array claim
 * becomes "[a, b]" (or a JSON array), a single value stays as it is. Names Cognito's groups and MLflow cannot carry are
 * left out.
 */
function groupsOf(value) {
  if (typeof value !== 'string') return [];
  let text = value.trim();
  let items;
  if (text.startsWith('[') && text.endsWith(']')) {
    try {
      const parsed = JSON.parse(text);
      if (Array.isArray(parsed)) items = parsed.map(String);
    } catch {
      // Not JSON: "[a, b]".
    }
    if (!items) text = text.slice(1, -1);
  }
  items = items ?? text.split(',');
  const groups = items.map((item) => item.trim().replace(/^"(.*)"$/, '$1').trim()).filter((item) => GROUP.test(item));
  return [...new Set(groups)];
}

/** The trigger's answer to a pre-token-generation event (version 1): the event with its response filled in. */
function handler(event) {
  const attributes = event.request?.userAttributes ?? {};
  const configuration = event.request?.groupConfiguration ?? {};
  const own = configuration.groupsToOverride ?? [];
  const federatedUser = attributes['cognito:user_status'] === 'EXTERNAL_PROVIDER';
  const groups = [...new Set([...own, ...(federatedUser ? groupsOf(attributes['custom:groups']) : [])])];
  event.response = {
    claimsOverrideDetails: {
      ...(federatedUser && attributes.email ? { claimsToAddOrOverride: { email_verified: 'true' } } : {}),
      groupOverrideDetails: {
        groupsToOverride: groups,
        iamRolesToOverride: configuration.iamRolesToOverride ?? [],
        ...(configuration.preferredRole ? { preferredRole: configuration.preferredRole } : {}),
      },
    },
  };
  return event;
}

module.exports = { groupsOf, handler: async (event) => handler(event), respond: handler };
