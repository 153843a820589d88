/**
 * What every rewrite target's templates share: the shipped set (`templates/<target>/*.liquid`,
 * found upwards from this module, read once) and a sandboxed liquidjs engine per set. Rendering
 * is data only: own properties only, strict filters, no file system (templates are handed in as
 * strings), bounded against templates that loop or recurse without end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Liquid } from 'liquidjs';

const shipped = new Map<string, Record<string, string>>();

/** The directory holding the shipped `templates/<target>/` (the one with `<marker>.liquid`). */
export function shippedTemplateDir(target: string, marker: string): string {
  let dir = __dirname;
  for (let i = 0; i < 10; i++) {
    const candidate = path.join(dir, 'templates', target);
    if (fs.existsSync(path.join(candidate, `${marker}.liquid`))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`templates/${target} not found next to the sqlmigrate installation`);
}

/** The shipped templates of a target, by name (read once). */
export function shippedTemplates<N extends string>(target: string, names: readonly N[]): Record<N, string> {
  let t = shipped.get(target);
  if (!t) {
    const dir = shippedTemplateDir(target, names[0]);
    t = {};
    for (const name of names) t[name] = fs.readFileSync(path.join(dir, `${name}.liquid`), 'utf8');
    shipped.set(target, t);
  }
  return t as Record<N, string>;
}

const engines = new WeakMap<object, Liquid>();

/** The sandboxed engine for a set of templates (one per set object). */
export function liquidFor<N extends string>(templates: Record<N, string>, names: readonly N[]): Liquid {
  let e = engines.get(templates);
  if (!e) {
    const map: Record<string, string> = {};
    for (const name of names) map[name] = templates[name];
    e = new Liquid({
      templates: map,
      ownPropertyOnly: true,
      strictFilters: true,
      outputEscape: undefined,
      relativeReference: false,
      renderLimit: 1000,
      parseLimit: 100_000,
      memoryLimit: 10_000_000,
    });
    engines.set(templates, e);
  }
  return e;
}
