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
  const stack = Stack.of(role);
  const wildcardActions = statement.actions.filter((action) => action.includes('*')).map((action) => `Action::${action}`);
  const wildcardResources = statement.resources
    .map((resource) => flattenCfnReference(stack.resolve(resource)))
    .filter((resource) => resource.includes('*'))
    .map((resource) => `Resource::${resource}`);
  for (const finding of [...wildcardActions, ...wildcardResources]) {
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
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
        if (statement.Effect !== 'Allow') continue;
        for (const action of [statement.Action].flat()) if (String(action).includes('*')) findings.add(`AwsSolutions-IAM5[Action::${action}]`);
        for (const target of [statement.Resource].flat()) {
          const flat = flattenCfnReference(target);
          if (flat.includes('*')) findings.add(`AwsSolutions-IAM5[Resource::${flat}]`);
        }
      }
    }
  }
  for (const id of findings) Validations.of(role).acknowledge({ id, reason });
}
