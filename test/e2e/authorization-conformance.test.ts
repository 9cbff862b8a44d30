/**
 * Authorization conformance of users mode (issue 22): every MLflow route as every role, classified and checked against
 * conformance/classification.json and docs/reference/authorization.md. The suite is conformance/suite.ts (shared with
 * sso mode, authorization-conformance-sso.test.ts), which says how to update both after a reviewed change.
 */
import { conformanceSuite } from './conformance/suite';

conformanceSuite('users');
