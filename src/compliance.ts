import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
// cdk-nag's own rendering of a resolved ARN into the text of a finding; cdk-nag is pinned to an exact version.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Runs cdk-nag's AWS Solutions rules over the whole app on every synth. An unacknowledged finding fails synth;
 * the report lands in the cloud assembly (`cdk.out/validation-report.json`).
 * Acknowledgements sit next to the resource they concern, each with the reason the risk is acceptable.
 */
export function applyComplianceChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * Adds `statement` to `role` and acknowledges exactly the wildcard findings (AwsSolutions-IAM5) that this statement
 * produces, each wildcard action and each wildcard resource by name, with `reason`. Any other wildcard on the role
 * is still reported.
 */
export function grantWithWildcards(role: iam.IRole, statement: iam.PolicyStatement, reason: string): void {
  role.addToPrincipalPolicy(statement);
  for (const id of wildcardFindings(Stack.of(role).resolve(statement.toStatementJson()))) {
    Validations.of(role).acknowledge({ id, reason });
  }
}

/** The AwsSolutions-IAM5 finding ids cdk-nag reports for one resolved policy statement, as cdk-nag words them. */
function wildcardFindings(statement: { Effect?: string; Action?: unknown; Resource?: unknown }): string[] {
  if (statement.Effect !== 'Allow') return [];
  const actions = [statement.Action ?? []].flat().map(String).filter((action) => action.includes('*'));
  const resources = [statement.Resource ?? []].flat().map(flattenCfnReference).filter((resource) => resource.includes('*'));
  return [...actions.map((a) => `AwsSolutions-IAM5[Action::${a}]`), ...resources.map((r) => `AwsSolutions-IAM5[Resource::${r}]`)];
}

/**
 * For roles that a third-party construct creates and configures itself: acknowledges the managed-policy (IAM4) and
 * wildcard (IAM5) findings that the role and its policies carry *now*, each by name, with `reason`. A grant added
 * later is still reported.
 */
export function acknowledgeRoleAsBuilt(role: IConstruct, reason: string): void {
  const stack = Stack.of(role);
  const findings = new Set<string>();
  for (const resource of role.node.findAll()) {
    if (!CfnResource.isCfnResource(resource)) continue;
    const properties = stack.resolve((resource as unknown as { _toCloudFormation(): any })._toCloudFormation()) as any;
    for (const [, body] of Object.entries<any>(properties.Resources ?? {})) {
      for (const arn of body.Properties?.ManagedPolicyArns ?? []) findings.add(`AwsSolutions-IAM4[Policy::${flattenCfnReference(arn)}]`);
      for (const statement of body.Properties?.PolicyDocument?.Statement ?? []) {
        for (const finding of wildcardFindings(statement)) findings.add(finding);
      }
    }
  }
  for (const id of findings) Validations.of(role).acknowledge({ id, reason });
}
