/**
 * Evaluates the CloudFormation intrinsic functions a property value is made of, as CloudFormation would at deploy time,
 * for the few functions names are built with (Ref of a pseudo parameter, Fn::Join, Fn::Select, Fn::Split). Anything
 * else throws, so a test cannot pass on a value it did not actually evaluate.
 */
export interface PseudoParameters {
  readonly 'AWS::StackId': string;
  readonly 'AWS::Region'?: string;
  readonly 'AWS::AccountId'?: string;
  readonly 'AWS::Partition'?: string;
}

export function evaluateIntrinsic(value: unknown, pseudo: PseudoParameters): unknown {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((v) => evaluateIntrinsic(v, pseudo));
  if (!value || typeof value !== 'object') throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length !== 1) throw new Error(`not an intrinsic function: ${JSON.stringify(value)}`);
  const [[fn, args]] = entries;
  const list = (v: unknown) => evaluateIntrinsic(v, pseudo) as unknown[];
  switch (fn) {
    case 'Ref': {
      const found = (pseudo as unknown as Record<string, string | undefined>)[String(args)];
      if (found === undefined) throw new Error(`no value for Ref ${String(args)}`);
      return found;
    }
    case 'Fn::Join': {
      const [separator, parts] = args as [string, unknown];
      return list(parts).map(String).join(separator);
    }
    case 'Fn::Select': {
      const [index, from] = args as [unknown, unknown];
      const items = list(from);
      const i = Number(evaluateIntrinsic(index, pseudo));
      if (!(i >= 0 && i < items.length)) throw new Error(`Fn::Select index ${i} out of range of ${items.length}`);
      return items[i];
    }
    case 'Fn::Split': {
      const [separator, source] = args as [string, unknown];
      return String(evaluateIntrinsic(source, pseudo)).split(separator);
    }
    default:
      throw new Error(`cannot evaluate ${fn}`);
  }
}

/** A stack id as CloudFormation gives it: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`. */
export function stackIdOf(stackName: string, uuid: string, region = 'us-west-2', account = '123456789012'): string {
  return `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${uuid}`;
}
