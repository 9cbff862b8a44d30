/** The cost report as text: a padded table for the terminal, a Markdown table for the documentation (docs/reference/cost.md). */
import { CostReport, MARKS, formatUsd } from './estimate';
import { PRICES, USAGE_NOTES } from './prices';

/** Active hours as the report prints them: to the tenth (those of `--hours-per-day` are a fraction). */
const hoursText = (hours: number): string => String(Math.round(hours * 10) / 10);

const MARK_SYMBOLS: Readonly<Record<string, string>> = { [MARKS.assumed]: '*', [MARKS.unconfirmed]: '†' };

function rows(report: CostReport): string[][] {
  const header = ['item', 'quantity', 'unit price', 'monthly at idle', `monthly with ${hoursText(report.activeHours)} active h`];
  const body = report.lines.map((line) => [
    line.item + line.marks.map((m) => MARK_SYMBOLS[m]).join(''),
    line.quantity,
    line.unitPrice,
    formatUsd(line.idle),
    formatUsd(line.active),
  ]);
  return [header, ...body, ['Total', '', '', formatUsd(report.idleTotal), formatUsd(report.activeTotal)]];
}

function notes(report: CostReport, bullet: string): string[] {
  const out: string[] = [];
  const usedMarks = new Set(report.lines.flatMap((l) => l.marks));
  for (const mark of usedMarks) out.push(`${MARK_SYMBOLS[mark]} ${mark}.`);
  if (report.notPriced.length > 0) {
    out.push('Not priced (cost unknown, not zero):');
    for (const n of report.notPriced) out.push(`${bullet}${n.type} x${n.count}: ${n.note}`);
  }
  out.push(
    `Usage-based, not in the totals: ${USAGE_NOTES.filter((u) => !u.database || report.databases.includes(u.database)).map((u) => `${u.what} $${PRICES[u.price].usd}/${PRICES[u.price].unit}`).join('; ')}.`,
    `Resources charged only by use: ${report.usageOnly.map((u) => `${u.type} x${u.count}`).join(', ') || 'none'}.`,
  );
  out.push('Excluded: data transfer (internet, cross-AZ, NAT gateway data processing), free tiers, taxes, support plans.');
  if (report.assumptions.length > 0) {
    out.push('Assumptions:');
    for (const a of report.assumptions) out.push(`${bullet}${a}`);
  }
  const mlflow = PRICES.sagemakerMlflowSmallMonth;
  out.push(
    `For comparison: SageMaker's managed MLflow tracking server (Small) about $${mlflow.usd} a month${mlflow.confirmed ? '' : ' (†, from the project\'s issue 13)'}; ` +
      "SageMaker's serverless MLflow App is reported as no additional charge.",
  );
  return out;
}

function title(report: CostReport): string {
  return `Estimated monthly cost in ${report.region}${report.paused ? ', paused (ECS services at 0 tasks)' : ''}: list prices as found on ${report.pricesAsOf} (src/cost/prices.ts), ${hoursText(report.activeHours)} active hours a month in the last column.`;
}

/** For the terminal. */
export function renderText(report: CostReport): string {
  const table = rows(report);
  const widths = table[0].map((_, col) => Math.max(...table.map((row) => row[col].length)));
  const line = (row: string[]) => row.map((cell, col) => (col >= 3 ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const [header, ...rest] = table;
  const body = rest.slice(0, -1);
  const total = rest[rest.length - 1];
  return [title(report), '', line(header), rule, ...body.map(line), rule, line(total), '', ...notes(report, '  - ')].join('\n');
}

/** For the documentation (scripts/generate-docs.ts). */
export function renderMarkdown(report: CostReport): string {
  const table = rows(report);
  const cells = (row: string[]) => `| ${row.join(' | ')} |`;
  const [header, ...rest] = table;
  const total = rest[rest.length - 1].map((cell) => (cell === '' ? '' : `**${cell}**`));
  return [
    title(report),
    '',
    cells(header),
    '| --- | --- | --- | ---: | ---: |',
    ...rest.slice(0, -1).map(cells),
    cells(total),
    '',
    ...notes(report, '- ').map((n) => (n.startsWith('- ') ? n : `\n${n.replace(/^\*/, '\\*')}\n`)),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
