import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
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
  acknowledgeWildcards(role, statement, reason);
}

/**
 * Acknowledges, on `scope` (the principal whose policy holds `statement`), the wildcard findings of `statement`.
 * They are worked out when the app is validated, after CDK has turned references to other stacks into imports:
 * a statement naming another stack's bucket reads, in its own stack's template (which cdk-nag checks), as an import
 * that exists only then.
 */
export function acknowledgeWildcards(scope: IConstruct, statement: iam.PolicyStatement, reason: string): void {
  scope.node.addValidation({
    validate: () => {
      for (const id of wildcardFindings(Stack.of(scope).resolve(statement.toStatementJson()))) {
        Validations.of(scope).acknowledge({ id, reason });
      }
      return [];
    },
  });
}

/** The AwsSolutions-IAM5 finding ids cdk-nag reports for one resolved policy statement, as cdk-nag words them. */
function wildcardFindings(statement: { Effect?: string; Action?: unknown; Resource?: unknown }): string[] {
  if (statement.Effect !== 'Allow') return [];
  const actions = [statement.Action ?? []].flat().map(String).filter((action) => action.includes('*'));
  const resources = [statement.Resource ?? []].flat().map(flattenReference).filter((resource) => resource.includes('*'));
  return [...actions.map((a) => `AwsSolutions-IAM5[Action::${a}]`), ...resources.map((r) => `AwsSolutions-IAM5[Resource::${r}]`)];
}

/**
 * A resolved CloudFormation value as the text of a cdk-nag finding: `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attr>`,
 * `Fn::Join` joined, `Fn::ImportValue` as the export name, `${X}` in strings as `<X>`, anything else as JSON.
 * The same rendering as cdk-nag's (which it does not export); test/compliance/flatten-reference.test.ts and the
 * cdk-nag run hold the two together.
 */
export function flattenReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const node = value as Record<string, any>;
  if (node['Fn::Join']) {
    const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (node['Fn::Sub']) return flattenReference(node['Fn::Sub']);
  if (node['Fn::GetAtt']) return `<${flattenReference(node['Fn::GetAtt'][0])}.${flattenReference(node['Fn::GetAtt'][1])}>`;
  if (node['Fn::ImportValue']) return flattenReference(node['Fn::ImportValue']);
  if (node.Ref) return `<${flattenReference(node.Ref)}>`;
  return JSON.stringify(value);
}

/**
 * For roles that a third-party construct creates and configures itself: acknowledges the managed-policy (IAM4) and
 * wildcard (IAM5) findings that the role and its policies carry *now*, each by name, with `reason`. A grant added
 * later is still reported.
 */
export function acknowledgeRoleAsBuilt(role: IConstruct, reason: string): void {
  const stack = Stack.of(role);
  const findings = new Set<string>();
  const documents: unknown[] = [];
  for (const resource of role.node.findAll()) {
    if (resource instanceof iam.CfnRole) {
      for (const arn of stack.resolve(resource.managedPolicyArns) ?? []) findings.add(`AwsSolutions-IAM4[Policy::${flattenReference(arn)}]`);
      for (const policy of stack.resolve(resource.policies) ?? []) documents.push(policy.PolicyDocument ?? policy.policyDocument);
    } else if (resource instanceof iam.CfnPolicy) {
      documents.push(stack.resolve(resource.policyDocument));
    }
  }
  for (const document of documents as Array<{ Statement?: any[] } | undefined>) {
    for (const statement of document?.Statement ?? []) {
      for (const finding of wildcardFindings(statement)) findings.add(finding);
    }
  }
  for (const id of findings) Validations.of(role).acknowledge({ id, reason });
}

