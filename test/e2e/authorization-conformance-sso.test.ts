/**
 * Authorization conformance of sso mode (issue 25): the suite of users mode (conformance/suite.ts) with every role an
 * identity of a real OpenID provider (Ory Hydra) signed in through the real oauth2-proxy and nginx, checked against
 * conformance/classification-sso.json and docs/reference/authorization-sso.md; each route whose class differs from
 * users mode's is explained in conformance/sso-differences.json.
 */
import { conformanceSuite } from './conformance/suite';

conformanceSuite('sso');
