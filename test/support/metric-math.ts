/**
 * A small evaluator of CloudWatch metric math, for the functions the alarms use, one period at a time: each metric id
 * has a value or none (no data point in the period). What it implements, as CloudWatch documents it: arithmetic
 * (+ - * /), comparisons (> < >= <= == !=, 1 or 0), AND/&& and OR/||, IF(condition, a, b) (a when the condition is not
 * 0), FILL(m, value) (the value where m has no data point), MAX([...]) and MIN([...]) of an array (of the values there
 * are). Any operation on a missing value is missing, as in CloudWatch, where a missing point makes the result missing.
 * Anything else is a syntax error: a test cannot pass on an expression this does not understand.
 */
export type Value = number | undefined;

type Token = { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||>=|<=|==|!=|[-+*/()<>,[\]]))/y;
  let at = 0;
  while (at < expression.length) {
    if (/^\s*$/.test(expression.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(expression);
    if (!m) throw new SyntaxError(`metric math: cannot read "${expression.slice(at)}"`);
    at = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'num', value: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push(['AND', 'OR'].includes(m[2]) ? { kind: 'op', value: m[2] === 'AND' ? '&&' : '||' } : { kind: 'id', value: m[2] });
    else tokens.push({ kind: 'op', value: m[3] });
  }
  return tokens;
}

const missingOr = (a: Value, b: Value, f: (x: number, y: number) => number): Value => (a === undefined || b === undefined ? undefined : f(a, b));

const BINARY: Array<Record<string, (x: number, y: number) => number>> = [
  { '||': (x, y) => (x !== 0 || y !== 0 ? 1 : 0) },
  { '&&': (x, y) => (x !== 0 && y !== 0 ? 1 : 0) },
  { '>': (x, y) => +(x > y), '<': (x, y) => +(x < y), '>=': (x, y) => +(x >= y), '<=': (x, y) => +(x <= y), '==': (x, y) => +(x === y), '!=': (x, y) => +(x !== y) },
  { '+': (x, y) => x + y, '-': (x, y) => x - y },
  { '*': (x, y) => x * y, '/': (x, y) => x / y },
];

/** The expression's value in one period, given each metric id's value there (absent or undefined: no data point). */
export function evaluateMetricMath(expression: string, values: Readonly<Record<string, Value>>): Value {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = () => tokens[i];
  const expect = (op: string) => {
    const t = tokens[i++];
    if (!t || t.kind !== 'op' || t.value !== op) throw new SyntaxError(`metric math: expected "${op}" in ${expression}`);
  };
  const binary = (level: number): Value => {
    if (level === BINARY.length) return unary();
    let left = binary(level + 1);
    for (let t = peek(); t && t.kind === 'op' && BINARY[level][t.value]; t = peek()) {
      i++;
      const right = binary(level + 1);
      left = missingOr(left, right, BINARY[level][t.value]);
    }
    return left;
  };
  const list = (): Value[] => {
    expect('[');
    const items = [binary(0)];
    while (peek()?.kind === 'op' && peek()!.value === ',') { i++; items.push(binary(0)); }
    expect(']');
    return items;
  };
  const args = (): Array<Value | Value[]> => {
    expect('(');
    const out: Array<Value | Value[]> = [];
    do {
      if (out.length) i++;
      out.push(peek()?.kind === 'op' && peek()!.value === '[' ? list() : binary(0));
    } while (peek()?.kind === 'op' && peek()!.value === ',');
    expect(')');
    return out;
  };
  const unary = (): Value => {
    const t = tokens[i++];
    if (!t) throw new SyntaxError(`metric math: unexpected end of ${expression}`);
    if (t.kind === 'num') return t.value;
    if (t.kind === 'op' && t.value === '-') { const v = unary(); return v === undefined ? undefined : -v; }
    if (t.kind === 'op' && t.value === '(') { const v = binary(0); expect(')'); return v; }
    if (t.kind === 'id') {
      if (peek()?.kind === 'op' && peek()!.value === '(') {
        const a = args();
        const scalar = (k: number) => { if (Array.isArray(a[k])) throw new SyntaxError(`metric math: ${t.value} takes no array at ${k}`); return a[k] as Value; };
        switch (t.value) {
          case 'IF': { if (a.length !== 3) break; const c = scalar(0); return c === undefined ? undefined : c !== 0 ? scalar(1) : scalar(2); }
          case 'FILL': { if (a.length !== 2) break; const v = scalar(0); return v === undefined ? scalar(1) : v; }
          case 'MAX':
          case 'MIN': {
            if (a.length !== 1 || !Array.isArray(a[0])) break;
            const present = (a[0] as Value[]).filter((v): v is number => v !== undefined);
            return present.length ? (t.value === 'MAX' ? Math.max(...present) : Math.min(...present)) : undefined;
          }
          default:
        }
        throw new SyntaxError(`metric math: ${t.value} with ${a.length} argument(s) is not supported here`);
      }
      if (!/^[a-z]/.test(t.value)) throw new SyntaxError(`metric math: metric ids start with a lower-case letter, got ${t.value}`);
      if (!(t.value in values)) throw new SyntaxError(`metric math: no metric ${t.value} given`);
      return values[t.value];
    }
    throw new SyntaxError(`metric math: unexpected "${t.value}" in ${expression}`);
  };
  const result = binary(0);
  if (i !== tokens.length) throw new SyntaxError(`metric math: trailing input in ${expression}`);
  return result;
}
