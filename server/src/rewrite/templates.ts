/**
 * Workspace template overrides: `.sqlmigrate/templates/<target>/<name>.liquid` replaces the
 * shipped `templates/<target>/<name>.liquid` of the same name (targets `knex`, `sqlalchemy2`,
 * `repository-ts`, `repository-py`, `models-py`).
 * Only the known names are read, only from that folder, at most 64 KiB each, and a file whose
 * real path leaves the workspace (a symbolic link out) is ignored. Templates are data: they
 * render with liquidjs, sandboxed (engine/rewrite/templateSet.ts), and what they emit is verified
 * before it is offered.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultTemplates, TEMPLATE_NAMES, type Templates } from '../engine/rewrite';
import { defaultSqlalchemyTemplates, SQLALCHEMY_TEMPLATE_NAMES, type SqlalchemyTemplates } from '../engine/rewrite/python';
import { defaultModelTemplates, MODEL_TEMPLATE_NAMES, type ModelTemplates } from '../engine/rewrite/python/model';
import { defaultPythonRepositoryTemplates, PY_REPOSITORY_TEMPLATE_NAMES, type PythonRepositoryTemplates } from '../engine/rewrite/python/repository';
import { defaultTsRepositoryTemplates, TS_REPOSITORY_TEMPLATE_NAMES, type TsRepositoryTemplates } from '../engine/rewrite/repository';

export const OVERRIDE_DIR = path.join('.sqlmigrate', 'templates', 'knex');
export const SQLALCHEMY_OVERRIDE_DIR = path.join('.sqlmigrate', 'templates', 'sqlalchemy2');
const MAX_TEMPLATE_CHARS = 64 * 1024;

function withOverrides<N extends string>(root: string | undefined, trusted: boolean, dirRel: string, names: readonly N[], base: Record<N, string>): { templates: Record<N, string>; overridden: N[] } {
  if (!root || !trusted) return { templates: base, overridden: [] };
  const dir = path.join(root, dirRel);
  if (!fs.existsSync(dir)) return { templates: base, overridden: [] };
  const realRoot = fs.realpathSync(root);
  const out = { ...base };
  const overridden: N[] = [];
  for (const name of names) {
    try {
      const real = fs.realpathSync(path.join(dir, `${name}.liquid`));
      if (!real.startsWith(realRoot + path.sep)) continue;
      const text = fs.readFileSync(real, 'utf8');
      if (text.length > MAX_TEMPLATE_CHARS) continue;
      out[name] = text;
      overridden.push(name);
    } catch {
      // absent: the shipped template stays
    }
  }
  return { templates: out, overridden };
}

/** The Knex templates of a workspace (shipped ones, with its overrides when trusted). */
export function loadTemplates(root: string | undefined, trusted = true): { templates: Templates; overridden: string[] } {
  return withOverrides(root, trusted, OVERRIDE_DIR, TEMPLATE_NAMES, defaultTemplates());
}

/** The SQLAlchemy 2.0 templates of a workspace (shipped ones, with its overrides when trusted). */
export function loadSqlalchemyTemplates(root: string | undefined, trusted = true): { templates: SqlalchemyTemplates; overridden: string[] } {
  return withOverrides(root, trusted, SQLALCHEMY_OVERRIDE_DIR, SQLALCHEMY_TEMPLATE_NAMES, defaultSqlalchemyTemplates());
}

/** The TypeScript repository templates (`.sqlmigrate/templates/repository-ts/`). */
export function loadTsRepositoryTemplates(root: string | undefined, trusted = true): { templates: TsRepositoryTemplates; overridden: string[] } {
  return withOverrides(root, trusted, path.join('.sqlmigrate', 'templates', 'repository-ts'), TS_REPOSITORY_TEMPLATE_NAMES, defaultTsRepositoryTemplates());
}

/** The Python repository templates (`.sqlmigrate/templates/repository-py/`). */
export function loadPythonRepositoryTemplates(root: string | undefined, trusted = true): { templates: PythonRepositoryTemplates; overridden: string[] } {
  return withOverrides(root, trusted, path.join('.sqlmigrate', 'templates', 'repository-py'), PY_REPOSITORY_TEMPLATE_NAMES, defaultPythonRepositoryTemplates());
}

/** The model templates (`.sqlmigrate/templates/models-py/`). */
export function loadModelTemplates(root: string | undefined, trusted = true): { templates: ModelTemplates; overridden: string[] } {
  return withOverrides(root, trusted, path.join('.sqlmigrate', 'templates', 'models-py'), MODEL_TEMPLATE_NAMES, defaultModelTemplates());
}
