/**
 * Session queries name their tables through ORM models declared in other files.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../../server/src/engine/config';
import { scanDirectory } from '../../server/src/engine/scan';

describe('ORM models across files', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-models-'));
    fs.mkdirSync(path.join(dir, 'app'));
    fs.writeFileSync(path.join(dir, 'app', 'models.py'), [
      'from sqlalchemy.orm import declarative_base',
      'Base = declarative_base()',
      'class Job(Base):',
      '    __tablename__ = "jobs"',
      'class Run(Base):',
      '    __tablename__ = "job_runs"',
      '',
    ].join('\n'));
    // A second module maps another class named Run to another table: ambiguous.
    fs.writeFileSync(path.join(dir, 'app', 'legacy_models.py'), 'class Run(Base):\n    __tablename__ = "runs_v1"\n');
    fs.writeFileSync(path.join(dir, 'app', 'service.py'), [
      'from app.db import get_session',
      'from app.models import Job, Run',
      'def jobs():',
      '    session = get_session()',
      '    return session.query(Job).filter(Job.status == "x").all()',
      'def runs():',
      '    session = get_session()',
      '    return session.query(Run).all()',
      '',
    ].join('\n'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resolves an entity to the table its model declares, and leaves an ambiguous one empty', async () => {
    const report = await scanDirectory(dir, { config: DEFAULT_CONFIG });
    const q = report.findings.filter((f) => f.rule === 'session-legacy-query');
    assert.deepEqual(q.map((f) => [f.entities, f.tables]), [[['Job'], ['jobs']], [['Run'], []]]);
  });
});
