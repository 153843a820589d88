/**
 * Workspace template overrides: `.sqlmigrate/templates/knex/<name>.liquid` replaces the shipped
 * `templates/knex/<name>.liquid` of the same name. Only the known names are read, only from
 * that folder, and a file whose real path leaves the workspace (a symbolic link out) is ignored.
 * Templates are data: they render with liquidjs, sandboxed (see engine/rewrite/render.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultTemplates, TEMPLATE_NAMES, type Templates } from '../engine/rewrite';

export const OVERRIDE_DIR = path.join('.sqlmigrate', 'templates', 'knex');

export function loadTemplates(root: string | undefined, trusted = true): { templates: Templates; overridden: string[] } {
  const base = defaultTemplates();
  if (!root || !trusted) return { templates: base, overridden: [] };
  const dir = path.join(root, OVERRIDE_DIR);
  if (!fs.existsSync(dir)) return { templates: base, overridden: [] };
  const realRoot = fs.realpathSync(root);
  const out = { ...base } as Templates;
  const overridden: string[] = [];
  for (const name of TEMPLATE_NAMES) {
    const file = path.join(dir, `${name}.liquid`);
    try {
      const real = fs.realpathSync(file);
      if (!real.startsWith(realRoot + path.sep)) continue;
      const text = fs.readFileSync(real, 'utf8');
      if (text.length > 64 * 1024) continue;
      out[name] = text;
      overridden.push(name);
    } catch {
      // absent: the shipped template stays
    }
  }
  return { templates: out, overridden };
}
