/**
 * A summary of MariaDB's slow-query log (written with log_slow_verbosity=query_plan,explain) for the statements of
 * one database user: grouped by statement with its literals masked, each with its count, worst time, rows examined and
 * EXPLAIN. `bench:scale` prints it at the end; standalone: `node --import tsx bench/slow-log.ts FILE [USER]`.
 */
import { readFileSync } from 'node:fs';

export interface SlowStatement {
  /** The statement with string and number literals replaced by ?. */
  readonly shape: string;
  readonly count: number;
  readonly maxSeconds: number;
  readonly maxRowsExamined: number;
  /** The EXPLAIN lines MariaDB wrote with the slowest one. */
  readonly explain: string[];
}

export function slowStatements(log: string, user = 'mlflow'): SlowStatement[] {
  const groups = new Map<string, { count: number; maxSeconds: number; maxRowsExamined: number; explain: string[] }>();
  for (const entry of log.split(/^# Time: .*$/m)) {
    if (!entry.includes(`# User@Host: ${user}[`)) continue;
    const seconds = Number(/Query_time: ([\d.]+)/.exec(entry)?.[1] ?? NaN);
    const rows = Number(/Rows_examined: (\d+)/.exec(entry)?.[1] ?? NaN);
    const explain = entry.split('\n').filter((line) => line.startsWith('# explain: ')).map((line) => line.slice('# explain: '.length));
    const sql = entry.split('\n').filter((line) => line !== '' && !line.startsWith('#') && !/^(SET timestamp|use )/.test(line)).join(' ');
    const shape = sql.replace(/'(?:[^'\\]|\\.)*'/g, '?').replace(/\b\d+(\.\d+)?(e\d+)?\b/g, '?').replace(/\?(, \?)+/g, '?, ...').replace(/\s+/g, ' ').trim();
    const group = groups.get(shape) ?? { count: 0, maxSeconds: 0, maxRowsExamined: 0, explain };
    group.count += 1;
    if (seconds > group.maxSeconds) Object.assign(group, { maxSeconds: seconds, explain });
    group.maxRowsExamined = Math.max(group.maxRowsExamined, rows);
    groups.set(shape, group);
  }
  return [...groups.entries()].map(([shape, g]) => ({ shape, ...g })).sort((a, b) => b.maxSeconds * b.count - a.maxSeconds * a.count);
}

export function printSlowStatements(statements: readonly SlowStatement[], limit = 8): void {
  for (const s of statements.slice(0, limit)) {
    console.log(`\n  ${s.count} x, worst ${s.maxSeconds.toFixed(2)} s, up to ${s.maxRowsExamined} rows examined:\n    ${s.shape.slice(0, 1500)}`);
    for (const line of s.explain) console.log(`    | ${line}`);
  }
}

if (require.main === module) {
  const [file, user] = process.argv.slice(2);
  printSlowStatements(slowStatements(readFileSync(file, 'utf8'), user), 20);
}
