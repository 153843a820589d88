/**
 * Module names of workspace files under a package root (rewrite.repository.python.packageRoot), as a table.
 */
import * as assert from 'node:assert/strict';
import { pythonModuleIn } from '../../../server/src/engine/rewrite/repositoryTypes';

const ROWS: Array<[file: string, packageRoot: string | undefined, module: string | undefined]> = [
  ['app/repositories/job_repository.py', undefined, 'app.repositories.job_repository'],
  ['app/repositories/job_repository.py', '.', 'app.repositories.job_repository'],
  ['app/__init__.py', '', 'app'],
  ['backend/app/models.py', 'backend', 'app.models'],
  ['backend/app/models.py', './backend/', 'app.models'],
  ['backend/app/models.py', 'src', undefined],
  ['backend2/app/models.py', 'backend', undefined],
  ['my-service/app/models.py', undefined, undefined],
  ['my-service/app/models.py', 'my-service', 'app.models'],
  ['app/2fa.py', undefined, undefined],
];

describe('rewrite: Python module names under a package root', () => {
  for (const [file, root, want] of ROWS) {
    it(`${file} under ${JSON.stringify(root)} → ${want ?? 'not importable'}`, () => {
      assert.equal(pythonModuleIn(file, root), want);
    });
  }
});
