/**
 * Every relative link of README.md and docs/ resolves: to a file or folder of the repository and, with a `#fragment`,
 * to a heading (GitHub's anchor of it) or an explicit anchor of the target page. And every `docs/...md` path the code,
 * the tests, the scripts, the containers, the lab and the examples name exists, so that a moved page cannot leave a stale pointer
 * in an error message or a comment.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(full);
    return entry.name.endsWith('.md') ? [full] : [];
  });
}

/** The text outside fenced code blocks and inline code spans, where a link is a link. */
function prose(text: string): string {
  return text
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/^( {4}|\t).*$/gm, '')
    .replace(/(`+)[\s\S]*?\1/g, '');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, ... */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const base = match[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]);
  return anchors;
}

export interface BrokenLink {
  readonly file: string;
  readonly link: string;
  readonly why: string;
}

/** The relative links of `file` that do not resolve. */
export function brokenLinks(file: string, root = ROOT): BrokenLink[] {
  const text = fs.readFileSync(file, 'utf8');
  const broken: BrokenLink[] = [];
  const where = path.relative(root, file);
  for (const match of prose(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const link = match[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:, ...
    const [target, fragment] = link.split('#', 2);
    const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
    if (!resolved.startsWith(root + path.sep) && resolved !== root) {
      broken.push({ file: where, link, why: 'points outside the repository' });
      continue;
    }
    if (!fs.existsSync(resolved)) {
      broken.push({ file: where, link, why: 'no such file' });
      continue;
    }
    if (fragment !== undefined && resolved.endsWith('.md') && !headingAnchors(fs.readFileSync(resolved, 'utf8')).has(decodeURIComponent(fragment))) {
      broken.push({ file: where, link, why: `no heading with the anchor #${fragment} in ${path.relative(root, resolved)}` });
    }
  }
  return broken;
}

describe('documentation links', () => {
  const files = [path.join(ROOT, 'README.md'), ...markdownFiles(path.join(ROOT, 'docs'))];

  it('covers README.md and every page of docs/', () => {
    assert.ok(files.length > 10, files.join(', '));
    assert.ok(fs.existsSync(path.join(ROOT, 'docs', 'README.md')), 'docs/README.md is the index');
  });

  for (const file of files) {
    it(`every relative link of ${path.relative(ROOT, file)} resolves to a file and heading`, () => {
      assert.deepEqual(brokenLinks(file), []);
    });
  }

  it('docs/README.md, the index, links every page of docs/', () => {
    const index = fs.readFileSync(path.join(ROOT, 'docs', 'README.md'), 'utf8');
    const linked = new Set([...index.matchAll(/\]\(([^)#]+)/g)].map((m) => path.resolve(ROOT, 'docs', m[1])));
    const missing = markdownFiles(path.join(ROOT, 'docs')).filter((f) => !f.endsWith(`${path.sep}docs${path.sep}README.md`) && !linked.has(f));
    assert.deepEqual(missing.map((f) => path.relative(ROOT, f)), []);
  });

  it('the check finds a missing file, a missing heading and a link outside the repository (it can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-doc-links-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.md'), '# A page\n\n## Some `code`: here\n\n[ok](#some-code-here) [ok](b.md#b-title) [x](#nope) [x](missing.md) [x](b.md#nope) [x](../x.md)\n`[not a link](missing.md)`\n');
      fs.writeFileSync(path.join(dir, 'b.md'), '# B title\n');
      assert.deepEqual(brokenLinks(path.join(dir, 'a.md'), dir).map((b) => b.link), ['#nope', 'missing.md', 'b.md#nope', '../x.md']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/ paths named outside the documentation', () => {
  const DIRS = ['src', 'test', 'scripts', 'containers', 'lab', 'bench', 'bin', '.ci', 'examples'];
  const EXTENSIONS = /\.(ts|js|py|sh|pm|template|ipynb|json|txt|md|conf)$|Dockerfile$/;

  function sourceFiles(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      if (entry.name === 'node_modules' || entry.name.startsWith('.venv')) return [];
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(full);
      return EXTENSIONS.test(entry.name) ? [full] : [];
    });
  }

  it('every docs/...md path in the code, tests, scripts, containers and lab exists', () => {
    const missing: string[] = [];
    for (const file of DIRS.flatMap((dir) => sourceFiles(path.join(ROOT, dir)))) {
      for (const match of fs.readFileSync(file, 'utf8').matchAll(/(?<![\w/.-])docs\/[\w-][\w./-]*?\.md\b/g)) {
        if (!fs.existsSync(path.join(ROOT, match[0]))) missing.push(`${path.relative(ROOT, file)}: ${match[0]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe('README.md', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('is under 300 lines', () => {
    assert.ok(readme.split('\n').length < 300, `README.md has ${readme.split('\n').length} lines`);
  });

  it('starts with the two commands for a newcomer, and they are the ones CI and package.json run', () => {
    const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.equal(sections[0], 'Two commands for a newcomer');
    const block = /## Two commands for a newcomer\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = block.split('\n').filter((line) => line.trim() && !line.startsWith('#'));
    assert.deepEqual(commands, ['npm ci && npx cdk synth -c sagemaker=both', 'bash scripts/install-test-deps.sh && npm ci && npm test']);
    // CI runs the second command's three steps, in order.
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter((line) => /^(bash|npm) /.test(line));
    assert.deepEqual(ci.map((line) => line.replace(/ --no-audit --no-fund$/, '')), ['bash scripts/install-test-deps.sh', 'npm ci', 'npm test']);
    // `npm run synth` is the first command's synth.
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.synth, 'cdk synth --quiet -c sagemaker=both');
  });
});
