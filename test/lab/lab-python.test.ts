/** Every Python file of the lab, and every code cell of its notebook, is valid Python 3.10. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LAB_DIR, allUnits, inspect, listFiles } from './lab-tools';

describe('lab Python code', () => {
  const pythonFiles = listFiles(LAB_DIR, ['.py']);
  const notebooks = listFiles(LAB_DIR, ['.ipynb']);

  it('finds the training script, the helper module and the notebook', () => {
    assert.ok(pythonFiles.includes('lab/training/train.py'), `no lab/training/train.py in ${pythonFiles.join(', ')}`);
    assert.ok(pythonFiles.includes('lab/mlflow_lab.py'), `no lab/mlflow_lab.py in ${pythonFiles.join(', ')}`);
    assert.deepEqual(notebooks, ['lab/sagemaker_mlflow_lab.ipynb']);
  });

  it('every .py file under lab/ parses and compiles', () => {
    const inspection = inspect(pythonFiles);
    assert.equal(inspection.files.length, pythonFiles.length);
    const errors = allUnits(inspection).filter((unit) => unit.error !== null).map((unit) => unit.error);
    assert.deepEqual(errors, []);
  });

  it('every code cell of the notebook parses and compiles once IPython magics are set aside', () => {
    const inspection = inspect(notebooks);
    const units = allUnits(inspection);
    assert.ok(units.length >= 10, `expected the notebook's code cells, found ${units.length}`);
    assert.deepEqual(units.filter((unit) => unit.cell_magic).map((unit) => unit.where), [], 'no whole-cell magics (%%bash...): keep the lab in Python');
    assert.deepEqual(units.filter((unit) => unit.error !== null).map((unit) => unit.error), []);
    assert.ok(units.some((unit) => unit.magics.some((line) => line.startsWith('%pip install'))), 'the notebook installs lab/requirements.txt with %pip');
  });

  it('reports broken Python (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-python-'));
    const broken = join(dir, 'broken.py');
    writeFileSync(broken, 'def f(:\n    return 1\n');
    const newerSyntax = join(dir, 'py312.py');
    writeFileSync(newerSyntax, 'type Alias = int\n'); // Python 3.12 syntax: the lab's containers run 3.10
    const notebook = join(dir, 'broken.ipynb');
    writeFileSync(notebook, JSON.stringify({
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [
        { cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source: ['!ls\n', 'x = (1,\n'] },
        { cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source: '%pip install x\nprint(1)\n' },
      ],
    }));
    const units = allUnits(inspect([broken, newerSyntax, notebook]));
    assert.deepEqual(units.map((unit) => unit.error !== null), [true, true, true, false]);
  });
});
