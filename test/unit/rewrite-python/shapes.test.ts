/**
 * One line per shape: the 1.x chain in a small module → the 2.0 expression offered, or the
 * reason it is not (a table; the fixture pairs cover whole files and execution).
 */
import * as assert from 'node:assert/strict';
import { sqlalchemyRewriteActions, sqlalchemyFixAll, applyTextEdits } from '../../../server/src/engine/rewrite/python';
import { legacyFindings, pythonSyntaxErrors } from './check';

const HEAD = 'from sqlalchemy import func\nfrom sqlalchemy.orm import aliased, joinedload\n\nfrom models import Job, Run\n\n\ndef f(session, x):\n    return ';

const OFFERED: Array<[string, string]> = [
  ['session.query(Job).all()', 'session.execute(select(Job)).scalars().all()'],
  ['session.query(Job).filter(Job.id == x).filter_by(status="a").first()', 'session.execute(select(Job).where(Job.id == x).filter_by(status="a").limit(1)).scalars().first()'],
  ['session.query(Job.id, Job.name).order_by(Job.name.desc()).limit(x).offset(2).all()', 'session.execute(select(Job.id, Job.name).order_by(Job.name.desc()).limit(x).offset(2)).all()'],
  ['session.query(Job).join(Job.runs).filter(Run.exit_code > 0).one_or_none()', 'session.execute(select(Job).join(Job.runs).where(Run.exit_code > 0)).scalars().unique().one_or_none()'],
  ['session.query(Job).outerjoin(Run, Run.job_id == Job.id, full=True).all()', 'session.execute(select(Job).outerjoin(Run, Run.job_id == Job.id, full=True)).scalars().unique().all()'],
  ['session.query(Job).options(joinedload(Job.runs)).first()', 'session.execute(select(Job).options(joinedload(Job.runs)).limit(1)).scalars().unique().first()'],
  ['session.query(func.count(Job.id)).scalar()', 'session.execute(select(func.count(Job.id))).scalar_one_or_none()'],
  ['session.query(Job).filter(Job.id > x).scalar()', 'session.execute(select(Job).where(Job.id > x)).scalar_one_or_none()'],
  ['session.query(Job).filter(*x).count()', 'session.execute(select(func.count()).select_from(Job).where(*x)).scalar_one()'],
  ['session.query(Job).filter_by(**x).count()', 'session.execute(select(func.count()).select_from(Job).filter_by(**x)).scalar_one()'],
  ['session.query(Job).group_by(Job.status).count()', 'session.execute(select(func.count()).select_from(select(Job).group_by(Job.status).subquery())).scalar_one()'],
  ['session.query(Job.status).distinct().all()', 'session.execute(select(Job.status).distinct()).all()'],
  ['session.query(Job.name.label("n"), func.max(Run.id)).group_by(Job.name).having(func.max(Run.id) > 1).all()', 'session.execute(select(Job.name.label("n"), func.max(Run.id)).group_by(Job.name).having(func.max(Run.id) > 1)).all()'],
  ['session.query(aliased(Job)).all()', 'session.execute(select(aliased(Job))).scalars().all()'],
  ['session.query(models.Job).get(x)', 'session.get(models.Job, x)'],
  ['session.query(Job).filter(Job.id == x).delete()', 'session.execute(delete(Job).where(Job.id == x)).rowcount'],
  ['session.query(Job).update({"status": x}, synchronize_session=False)', 'session.execute(update(Job).values({"status": x}).execution_options(synchronize_session=False)).rowcount'],
  ['self.db.session.query(Job).where(Job.id == 1).one()', 'self.db.session.execute(select(Job).where(Job.id == 1)).scalars().one()'],
  ['get_session().query(Job).all()', 'get_session().execute(select(Job)).scalars().all()'],
];

const REFUSED: Array<[string, string]> = [
  ['session.query(Job).with_for_update().all()', '`.with_for_update()` has no 2.0 rewrite here yet'],
  ['session.query(Job).join(Run, Job.id == Run.job_id, aliased=True).all()', '1.x-only join options'],
  ['session.query(Job).join(Run, Job.runs, Run.job).all()', 'the 1.x multi-join form'],
  ['session.query(Job).limit(2).order_by(Job.id).all()', 'raises in SQLAlchemy 1.x'],
  ['session.query(Job).get(x, y)', 'needs exactly one identity argument'],
  ['session.query(Job).first(x)', 'with arguments'],
  ['session.query(Job).update([(Job.status, x)], update_args={"preserve_parameter_order": True})', 'has no equivalent here'],
  ['session.query(Job).update(dict(status=x))', 'values that are not a dict'],
  ['session.query(job_alias).all()', 'cannot tell whether `job_alias` is a mapped class or a column'],
  ['session.query(Job).order_by(Job.id).delete()', '1.x accepts only filters before a bulk delete'],
  ['session.query(Job, Run).delete()', 'not one mapped class'],
  ['session.query(Job, Job.name).join(Run, Run.job_id == Job.id).scalar()', 'de-duplicates whole rows'],
  ['session.query(Job).filter(Job.id == x).paginate(page=1)', 'aborts the request itself'],
  ['session.query(Job).filter(Job.id == x).exists()', 'ends in `.exists()`, not a terminal'],
];

async function actionFor(chain: string, pre = HEAD) {
  const src = `${pre}${chain}\n`;
  const findings = await legacyFindings(src, 'shape.py');
  assert.equal(findings.length, 1, `one finding expected for ${chain}: ${findings.map((f) => f.message).join(' | ')}`);
  return { src, action: sqlalchemyRewriteActions(src, 'shape.py', findings[0])[0] };
}

describe('rewrite-python: shapes', () => {
  it('a query in a variable is not rewritten when the session is rebound before it is read', async () => {
    const src = 'from models import Job\n\n\ndef f(session, other):\n    q = session.query(Job)\n    with other as session:\n        return q.all()\n';
    const [finding] = await legacyFindings(src, 'v.py');
    const [a] = sqlalchemyRewriteActions(src, 'v.py', finding);
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /`session` is reassigned after `q` is built/);
  });

  for (const [chain, expected] of OFFERED) {
    it(`${chain} → ${expected}`, async () => {
      const { src, action } = await actionFor(chain);
      assert.equal(action.verified, true, action.reasonNotOffered);
      assert.equal(action.rendered, expected);
      assert.deepEqual(await pythonSyntaxErrors(applyTextEdits(src, action.edits)), []);
    });
  }
  for (const [chain, reason] of REFUSED) {
    it(`${chain}: not offered (${reason})`, async () => {
      const { action } = await actionFor(chain);
      assert.equal(action.verified, false, `offered: ${action.rendered}`);
      assert.ok(action.reasonNotOffered!.includes(reason), action.reasonNotOffered);
    });
  }

  it('imports: merged, added after the docstring and __future__, or refused when a name is taken', async () => {
    const cases: Array<[string, RegExp | string]> = [
      ['"""Doc."""\nfrom __future__ import annotations\n\nimport os\n\n\ndef f(session):\n    return session.query(Job).count()\n', /^"""Doc\."""\nfrom __future__ import annotations\n\nimport os\nfrom sqlalchemy import select, func\n/],
      ['"""Doc only."""\n\n\ndef f(session):\n    return session.query(Job).all()\n', /^"""Doc only\."""\n\nfrom sqlalchemy import select\n\n\ndef f/],
      ['def f(session):\n    return session.query(Job).all()\n', /^from sqlalchemy import select\n\ndef f/],
      ['from sqlalchemy import func as fn, select\n\n\ndef f(session):\n    return session.query(Job).count()\n', /^from sqlalchemy import func as fn, select, func\n/],
      ['from sqlalchemy.sql import select\n\n\ndef f(session):\n    return session.query(Job).all()\n', /^from sqlalchemy\.sql import select\n\n\ndef f\(session\):\n    return session\.execute/],
      ['def f(session, select=None):\n    return session.query(Job).all()\n', '`select` already names something else'],
      ['from helpers import *\n\n\ndef f(session):\n    return session.query(Job).all()\n', '`select` already names something else'],
      ['def f(session):\n    select = 1\n    return session.query(Job).all()\n', '`select` already names something else'],
      ['def f(session):\n    return session.query(Job).filter(Job.id.in_(select(Run.job_id))).all()\n', '`select` is used in this file but not imported from sqlalchemy'],
    ];
    for (const [src, want] of cases) {
      const findings = await legacyFindings(src, 'imp.py');
      const fix = sqlalchemyFixAll(src, 'imp.py', findings);
      if (typeof want === 'string') {
        assert.equal(fix.applied.length, 0, src);
        assert.ok(fix.skipped.some((s) => s.reason.includes(want)), `${src}: ${fix.skipped.map((s) => s.reason).join(' | ')}`);
      } else {
        const out = applyTextEdits(src, fix.edits);
        assert.match(out, want, out);
        assert.deepEqual(await pythonSyntaxErrors(out), []);
      }
    }
  });

  it('Flask-SQLAlchemy: the session comes from the module\'s `db`, imported or created', async () => {
    // (The analyser's prefilter needs a `.query(` somewhere in the file: the first function.)
    const imported = 'from flask_sqlalchemy import SQLAlchemy\nfrom app.extensions import db\n\n\nclass Job(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n\n\ndef g():\n    return db.session.query(Job).count()\n\n\ndef f():\n    return Job.query.filter_by(id=1).all()\n';
    const findings = (await legacyFindings(imported, 'flask_app.py')).filter((x) => x.range.start.line === 13);
    assert.equal(findings.length, 1);
    const [a] = sqlalchemyRewriteActions(imported, 'flask_app.py', findings[0]);
    assert.equal(a.rendered, 'db.session.execute(select(Job).filter_by(id=1)).scalars().all()', a.reasonNotOffered);
    const none = 'from flask_sqlalchemy import SQLAlchemy\nfrom app.factory import make_db\n\ndb = make_db()\n\n\nclass Job(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n\n\ndef g(session):\n    return session.query(Job).count()\n\n\ndef f():\n    return Job.query.all()\n';
    const flaskFinding = (await legacyFindings(none, 'flask_app.py')).find((x) => x.range.start.line === 15)!;
    const [b] = sqlalchemyRewriteActions(none, 'flask_app.py', flaskFinding);
    assert.equal(b.verified, false);
    assert.match(b.reasonNotOffered!, /no `db = SQLAlchemy\(\.\.\.\)`/);
    const shadowed = imported.replace('def f():\n    return Job.query', 'def f(db):\n    return Job.query');
    const [c] = sqlalchemyRewriteActions(shadowed, 'flask_app.py', (await legacyFindings(shadowed, 'flask_app.py')).find((x) => x.range.start.line === 13)!);
    assert.equal(c.verified, false);
    assert.match(c.reasonNotOffered!, /`db` is bound locally here/);
  });
});
