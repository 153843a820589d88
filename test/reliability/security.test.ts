/**
 * Security: workspace content is data.
 *
 *  - Templates (Knex and SQLAlchemy, overridable from the workspace) render with liquidjs in a
 *    sandbox: no prototype access (`constructor`, `__proto__`, `prototype` read nothing), no
 *    file system (`include` / `render` of paths fail), bounded loops. A self-test shows the
 *    same probes do leak through an engine without `ownPropertyOnly`.
 *  - Paths from `.sqlmigrate.json` cannot leave the workspace (a table of hostile configs,
 *    beyond the cases in test/unit/config.test.ts).
 *  - The burndown webview's HTML escapes any workspace text (fast-check over hostile folder
 *    names and titles: no element, attribute or script can be injected), complementing the
 *    fixed cases in test/unit/report/webview.test.ts.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import { burndownHtml, newNonce } from '../../client/webview/burndown';
import { ConfigError, parseConfig } from '../../server/src/engine/config';
import { defaultTemplates, TEMPLATE_NAMES, type Templates } from '../../server/src/engine/rewrite';
import { renderChain, renderImport, renderRaw } from '../../server/src/engine/rewrite/render';
import { buildBurndown } from '../../server/src/history';
import { envInt, report, withinBound } from './support';

/** Template bodies that try to reach outside the data they are given. */
const PROBES = [
  '{{ steps.constructor }}',
  '{{ steps.constructor.name }}',
  '{{ instance.constructor }}',
  '{{ instance.constructor.constructor }}',
  '{{ table.__proto__ }}',
  '{{ steps.__proto__.constructor }}',
  '{{ steps.prototype }}',
  '{{ steps.first.constructor }}',
  "{{ steps['constructor'] }}",
  "{{ instance['__proto__']['constructor'] }}",
  '{% assign c = steps | map: "constructor" %}{{ c }}',
  '{{ steps.constructor.prototype.toString }}',
  '{{ instance.toString }}{{ instance.valueOf }}{{ instance.hasOwnProperty }}',
  '{{ process }}{{ global }}{{ globalThis }}{{ require }}{{ this }}',
];

/** What a leak looks like in rendered text. */
const LEAK = /function|\[native code\]|\[object|Object|Array|String|process|require/;

function withTemplate(body: string): Templates {
  const t = { ...defaultTemplates() } as Templates;
  t.chain = body;
  return t;
}

const CTX = { instance: 'db', exprs: new Map([['1', 'id']]), indent: '  ', column: 2 };
const CHAIN = { kind: 'select', table: 'jobs', steps: [{ method: 'where', args: [{ t: 'str', v: 'id' }, { t: 'str', v: '=' }, { t: 'bind', key: '1' }] }] } as unknown as Parameters<typeof renderChain>[0];

describe('reliability: security', function () {
  this.timeout(60000);

  describe('templates render in a sandbox', () => {
    it('prototype probes read nothing (Knex templates)', () => {
      let probes = 0;
      for (const p of PROBES) {
        probes++;
        const out = renderChain(CHAIN, CTX, withTemplate(`{{ inline }}|${p}`));
        assert.equal(out.split('|')[0], "db('jobs').where('id', '=', id)");
        assert.ok(!LEAK.test(out.split('|').slice(1).join('|')), `${p} leaked: ${out}`);
      }
      for (const name of ['raw', 'import-esm'] as const) {
        const t = { ...defaultTemplates(), [name]: `x{{ instance.constructor }}{{ sql.constructor.name }}{{ module.__proto__ }}y` } as Templates;
        const out = name === 'raw' ? renderRaw('db', "'SELECT 1'", '{}', t) : renderImport('esm', 'db', './db', false, t);
        assert.equal(out, 'xy', `${name} leaked: ${out}`);
        probes++;
      }
      report('template probes', { probes, leaks: 0 });
    });

    it('prototype probes read nothing (SQLAlchemy templates)', () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const py = require('../../server/src/engine/rewrite/python/render') as typeof import('../../server/src/engine/rewrite/python/render');
      const names = py.SQLALCHEMY_TEMPLATE_NAMES;
      let probes = 0;
      const plan = { session: { text: 'session', norm: 'session', type: 'identifier' }, entities: [{ text: 'Job', norm: 'Job', type: 'identifier', kind: 'entity' }], steps: [], terminal: 'all', terminalArgs: [] } as unknown as Parameters<typeof py.renderPlan>[0];
      const layout = { indent: '    ', column: 11 } as unknown as Parameters<typeof py.renderPlan>[1];
      for (const name of names) {
        for (const p of PROBES) {
          const t = { ...py.defaultSqlalchemyTemplates(), [name]: `A${p}B` };
          let out = '';
          try {
            out = py.renderPlan(plan, layout, t);
          } catch (e) {
            // A template that breaks the renderer is refused: also not a leak.
            out = String((e as Error).message).includes('function') ? `threw: ${(e as Error).message}` : '';
          }
          probes++;
          assert.ok(!LEAK.test(out.replace(/Job/g, '')), `${name}: ${p} leaked: ${out}`);
        }
      }
      report('SQLAlchemy template probes', { templates: names.length, probes, leaks: 0 });
    });

    it('templates cannot read files or loop without end', () => {
      for (const body of ["{% include '/etc/passwd' %}", "{% render '../../package.json' %}", "{% include 'chain' %}{% include '/proc/self/environ' %}", '{% layout "/etc/hostname" %}x']) {
        let out = '';
        try {
          out = renderChain(CHAIN, CTX, withTemplate(body));
        } catch {
          out = '';
        }
        assert.ok(!/root:|"name"|HOME=|PATH=/.test(out), `${body} read a file: ${out.slice(0, 200)}`);
      }
      for (const body of ['{% for i in (1..100000000) %}x{% endfor %}', '{% for i in (1..10000) %}{% for j in (1..10000) %}x{% endfor %}{% endfor %}', "{% render 'chain' %}"]) {
        const t = withTemplate(body);
        withinBound('a hostile template', 20000, () => {
          try {
            renderChain(CHAIN, CTX, t);
          } catch {
            // refused by renderLimit / memoryLimit / recursion: what we want
          }
        });
      }
    });

    it('the probes do catch an engine without ownPropertyOnly (planted bug)', () => {
      const unsafe = new Liquid({ ownPropertyOnly: false });
      const leaked = PROBES.filter((p) => LEAK.test(unsafe.parseAndRenderSync(p, { steps: [{ method: 'where' }], instance: 'db', table: "'jobs'" })));
      assert.ok(leaked.length > 0, 'no probe leaked through an unsandboxed engine: the probes test nothing');
      report('probes that leak through an unsandboxed engine', { leaked: leaked.length, of: PROBES.length });
    });

    it('every shipped template name is covered', () => {
      assert.deepEqual([...TEMPLATE_NAMES].sort(), Object.keys(defaultTemplates()).sort());
    });
  });

  describe('config paths cannot leave the workspace', () => {
    const ESCAPES: Array<[string, unknown]> = [
      ['include through a deeper parent', { include: ['src/../../etc/**'] }],
      ['exclude ending in a parent', { exclude: ['src/..'] }],
      ['include that is only a parent', { include: ['..'] }],
      ['an absolute exception path', { exceptions: [{ path: '/etc/passwd', reason: 'x' }] }],
      ['a Windows drive path', { include: ['C:/Users/**'] }],
      ['a lower-case drive path', { exclude: ['d:\\secrets\\**'] }],
      ['an exception through a parent', { exceptions: [{ path: 'a/b/../../../c.py', reason: 'x' }] }],
      ['the knex import through a parent', { rewrite: { knex: { import: '../../outside/db' } } }],
      ['the knex import as an absolute path', { rewrite: { knex: { import: '/etc/db' } } }],
    ];
    for (const [name, value] of ESCAPES) {
      it(`rejects ${name}`, () => {
        assert.throws(() => parseConfig(JSON.stringify(value)), (e: unknown) => e instanceof ConfigError && /leaves the workspace|must/.test(e.message), JSON.stringify(value));
      });
    }

    it('rejects Windows-style parent and root paths (backslashes)', () => {
      const accepted = [
        { include: ['..\\outside\\**'] },
        { exclude: ['src\\..\\..\\x'] },
        { exceptions: [{ path: '\\\\server\\share\\a.py', reason: 'x' }] },
        { rewrite: { knex: { import: '..\\..\\db' } } },
      ].filter((v) => {
        try {
          parseConfig(JSON.stringify(v));
          return true;
        } catch (e) {
          return !(e instanceof ConfigError);
        }
      });
      assert.deepEqual(accepted, [], 'paths with backslashes leave the workspace on Windows');
    });

    it('keeps what stays inside', () => {
      for (const v of [{ include: ['src/**', './app/**'] }, { exclude: ['a..b/**', '...'] }, { rewrite: { knex: { import: '@app/db' } } }, { exceptions: [{ path: 'src/x..y.ts', reason: 'a reason' }] }]) {
        assert.doesNotThrow(() => parseConfig(JSON.stringify(v)), JSON.stringify(v));
      }
    });
  });

  describe('the burndown webview escapes workspace text', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.constantFrom('</script><script>alert(1)</script>', '<img src=x onerror=alert(1)>', '" onmouseover="alert(1)', "'><svg onload=alert(1)>", '<!--', ']]>', '</title><script>x</script>', '&lt;b&gt;', '\u2028\u2029', '<style>*{}</style>', 'javascript:alert(1)', '{{constructor}}'),
    ).map((s) => s);
    it('no hostile folder name or title adds an element, an attribute or a script', () => {
      const nonce = newNonce();
      const opts = { cspSource: 'https://x.vscode-cdn.net', nonce, scriptUris: ['https://x.vscode-cdn.net/a.js'], styleUris: ['https://x.vscode-cdn.net/a.css'] };
      const base = burndownHtml({ ...opts, data: { ...buildBurndown([]), folders: ['plain'] }, title: 'plain' });
      const tags = (html: string) => (html.match(/<[a-zA-Z][^>]*>/g) ?? []).map((t) => t.replace(/\s.*$/s, '')).join(',');
      let n = 0;
      fc.assert(
        fc.property(fc.array(hostile, { maxLength: 4 }), hostile, (folders, title) => {
          n++;
          const html = burndownHtml({ ...opts, data: { ...buildBurndown([]), folders }, title });
          assert.equal(tags(html), tags(base), 'the element structure changed');
          assert.ok(!(html.match(/<[a-zA-Z][^>]*>/g) ?? []).some((t) => /\son[a-z]+\s*=/i.test(t)), 'an event handler attribute appeared');
          assert.equal((html.match(/<script/g) ?? []).length, (base.match(/<script/g) ?? []).length);
          const json = /<script type="application\/json" id="burndown-data">([^<]*)<\/script>/.exec(html);
          assert.ok(json, 'the data element is intact');
          assert.deepEqual(JSON.parse(json[1]).folders, folders);
        }),
        { numRuns: envInt('SQLMIGRATE_FUZZ_RUNS', 300) },
      );
      report('webview HTML', { renders: n });
    });

    it('the structure check catches unescaped text (planted bug)', () => {
      const base = '<h1 id="title">x</h1>';
      const unescaped = (t: string) => `<h1 id="title">${t}</h1>`;
      const tags = (html: string) => (html.match(/<[a-zA-Z][^>]*>/g) ?? []).map((t) => t.replace(/\s.*$/s, '')).join(',');
      assert.notEqual(tags(unescaped('<img src=x onerror=alert(1)>')), tags(base));
    });
  });
});
