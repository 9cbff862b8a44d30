/** The notebook is a valid nbformat v4 document, committed without outputs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOTEBOOK_PATH, SYSTEM_PYTHON, inspect } from './lab-tools';

describe('lab notebook', () => {
  it('the nbformat validator is installed (Debian package python3-nbformat, listed in .ci/apt-packages.txt)', () => {
    const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import nbformat; print(nbformat.__version__)'], { encoding: 'utf8' });
    assert.equal(probe.status, 0, `${SYSTEM_PYTHON} cannot import nbformat: apt-get install python3-nbformat\n${probe.stderr ?? probe.error}`);
    const aptPackages = readFileSync(join(__dirname, '..', '..', '.ci', 'apt-packages.txt'), 'utf8').split('\n').map((line) => line.trim());
    assert.ok(aptPackages.includes('python3-nbformat'), '.ci/apt-packages.txt must install python3-nbformat for CI');
  });

  it('is valid nbformat v4', () => {
    const [notebook] = inspect([NOTEBOOK_PATH], { validateNotebooks: true }).files;
    assert.equal(notebook.nbformat, 4);
    assert.equal(notebook.validation_error, null);
    assert.ok((notebook.code_cells ?? 0) >= 10, `expected the lab's code cells, found ${notebook.code_cells}`);
  });

  it('is committed without outputs or execution counts (nothing from a real account, no credentials)', () => {
    const [notebook] = inspect([NOTEBOOK_PATH]).files;
    assert.deepEqual(notebook.cells_with_outputs, []);
  });

  it('rejects a notebook that is not valid nbformat (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-notebook-'));
    const raw = JSON.parse(readFileSync(NOTEBOOK_PATH, 'utf8'));
    const codeCell = raw.cells.findIndex((cell: { cell_type: string }) => cell.cell_type === 'code');
    delete raw.cells[codeCell].outputs; // a code cell must have outputs (an empty list)
    const broken = join(dir, 'missing-outputs.ipynb');
    writeFileSync(broken, JSON.stringify(raw));
    const withOutputs = JSON.parse(readFileSync(NOTEBOOK_PATH, 'utf8'));
    withOutputs.cells[codeCell].execution_count = 1;
    withOutputs.cells[codeCell].outputs = [{ output_type: 'stream', name: 'stdout', text: 'hello\n' }];
    const executed = join(dir, 'executed.ipynb');
    writeFileSync(executed, JSON.stringify(withOutputs));

    const [invalid, valid] = inspect([broken, executed], { validateNotebooks: true }).files;
    assert.match(invalid.validation_error ?? '', /ValidationError/);
    assert.equal(valid.validation_error, null);
    assert.deepEqual(valid.cells_with_outputs, [codeCell]);
  });
});
