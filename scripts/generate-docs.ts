/**
 * Rewrites the generated sections of README.md: the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` for
 * each section of GENERATED_SECTIONS, from the code that holds the facts (the settings table from
 * src/config/settings.ts). The text around the markers is kept as it is. test/config/settings-docs.test.ts fails while
 * README.md differs from what this writes.
 *
 *   npm run docs              rewrite README.md
 *   npm run docs -- --check   exit 1 if README.md is out of date, write nothing
 *
 * Another generated section is one more entry in GENERATED_SECTIONS and a pair of markers in README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SettingDeclarations } from '../src/config/declare';
import { DEFAULT_CONFIG, SETTINGS } from '../src/config/platform-config';
import { SETTING_GROUPS } from '../src/config/settings';

export const README_PATH = join(resolve(__dirname, '..'), 'README.md');

/** A section of README.md that is generated: its marker name and what goes between its markers. */
export interface GeneratedSection {
  readonly name: string;
  readonly render: () => string;
}

export const GENERATED_SECTIONS: readonly GeneratedSection[] = [
  { name: 'settings', render: () => settingsTable(SETTINGS, SETTING_GROUPS, DEFAULT_CONFIG) },
];

/**
 * `readme` with the text between the markers of section `name` replaced by `content` (the markers stay, each on its
 * own line). Throws unless each marker occurs exactly once, start before end.
 */
export function replaceGeneratedSection(readme: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const count = (marker: string) => readme.split(marker).length - 1;
  if (count(start) !== 1 || count(end) !== 1) {
    throw new Error(`README needs the markers ${start} and ${end} exactly once each (found ${count(start)} and ${count(end)})`);
  }
  const from = readme.indexOf(start) + start.length;
  const to = readme.indexOf(end);
  if (to < from) throw new Error(`README's ${end} comes before ${start}`);
  return `${readme.slice(0, from)}\n${content.trimEnd()}\n${readme.slice(to)}`;
}

/** `readme` with every generated section rewritten. */
export function generateReadme(readme: string, sections: readonly GeneratedSection[] = GENERATED_SECTIONS): string {
  return sections.reduce((text, section) => replaceGeneratedSection(text, section.name, section.render()), readme);
}

/**
 * The settings table: a row per setting, under a row per group (in the order of `groups`, settings in declaration
 * order). Default column: the declaration's `defaultText`, else the value in `defaults`, else "unset".
 */
export function settingsTable(declarations: SettingDeclarations, groups: readonly string[], defaults: Readonly<Record<string, unknown>>): string {
  const unknownGroups = Object.entries(declarations).filter(([, declaration]) => !groups.includes(declaration.group));
  if (unknownGroups.length > 0) {
    throw new Error(`Settings in no README group (${groups.join(', ')}): ${unknownGroups.map(([name, d]) => `${name} (${d.group})`).join(', ')}`);
  }
  const rows = ['| setting | default | allowed | what it does |', '| --- | --- | --- | --- |'];
  for (const group of groups) {
    const members = Object.entries(declarations).filter(([, declaration]) => declaration.group === group);
    if (members.length === 0) continue;
    rows.push(`| **${group}** | | | |`);
    for (const [name, declaration] of members) {
      const env = declaration.env?.length ? ` (env ${declaration.env.map((variable) => `\`${variable}\``).join(', ')})` : '';
      const value = defaults[name];
      const defaultText = declaration.defaultText ?? (value === undefined ? 'unset' : `\`${String(value)}\``);
      const cells = [`\`${name}\`${env}`, defaultText, declaration.allowedText ?? declaration.parser.allowed, declaration.doc];
      rows.push(`| ${cells.map(cell).join(' | ')} |`);
    }
  }
  return rows.join('\n');
}

/** A table cell: a "|" would end it, and "<" outside a code span would start an HTML tag. */
function cell(text: string): string {
  const problem = text.split('`').some((part, i) => i % 2 === 0 && /[<>]/.test(part));
  if (problem) throw new Error(`Put "<...>" in backticks in README text, or it vanishes as an HTML tag: ${text}`);
  return text.replace(/\|/g, '\\|');
}

if (require.main === module) {
  const current = readFileSync(README_PATH, 'utf8');
  const generated = generateReadme(current);
  if (process.argv.includes('--check')) {
    if (generated !== current) {
      console.error('README.md is out of date: run `npm run docs`');
      process.exit(1);
    }
  } else if (generated !== current) {
    writeFileSync(README_PATH, generated);
    console.log('README.md: generated sections rewritten');
  } else {
    console.log('README.md: up to date');
  }
}
