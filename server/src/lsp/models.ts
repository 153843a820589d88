/**
 * The mapped classes and CREATE TABLE statements of one workspace folder, for the Python
 * repository rewrite (it needs the table's mapped class) and the "Generate model from CREATE
 * TABLE" quick fix. Read through the host's reader (open buffers first, then disk), per file only
 * when its text changed, and at most once per `FRESH_MS` for the whole folder: a code action
 * request does not walk the folder each time.
 */
import { PathRules, type Config } from '../engine/config';
import { createTablesIn, generateModel, modelsInPython, usesSqlModel, type DdlTable } from '../engine/rewrite/python/model';
import { repositoryConfig, withPackageRoot, type PythonModel } from '../engine/rewrite/repositoryTypes';
import { listFiles, type SkippedFile } from '../engine/scan';
import type { Finding } from '../engine/types';
import { loadModelTemplates } from '../rewrite/templates';
import type { OfferedRewrite, WorkspaceReader } from './rewrites';

const FRESH_MS = 3000;
/** Files read for models and DDL: Python sources and .sql files. */
const FILES = /\.(py|sql)$/i;

interface FileFacts {
  text: string;
  models: PythonModel[];
  tables: DdlTable[];
  sqlModel: boolean;
}

export class WorkspaceModels {
  private readonly rules: PathRules;
  private readonly facts = new Map<string, FileFacts>();
  private refreshed = -Infinity;
  /** Incremented whenever a file's facts change. */
  private generation = 0;
  private readonly templates;

  constructor(private readonly root: string, private readonly config: Config, private readonly read: WorkspaceReader) {
    this.rules = new PathRules(config);
    this.templates = loadModelTemplates(root).templates;
  }

  private refresh(): void {
    const now = Date.now();
    if (now - this.refreshed < FRESH_MS) return;
    this.refreshed = now;
    const skipped: SkippedFile[] = [];
    const seen = new Set<string>();
    for (const entry of listFiles(this.root, this.rules, skipped, (rel) => FILES.test(rel) && this.rules.isIncluded(rel))) {
      const rel = entry.rel.split(/[\\/]/).join('/');
      seen.add(rel);
      const text = this.read(rel);
      if (text === undefined) {
        if (this.facts.delete(rel)) this.generation++;
        continue;
      }
      const known = this.facts.get(rel);
      if (known && known.text === text) continue;
      const py = /\.py$/i.test(rel);
      this.generation++;
      this.facts.set(rel, {
        text,
        models: py && /__tablename__|SQLModel/.test(text) ? modelsInPython(text, rel) : [],
        tables: /create\s+table/i.test(text) ? createTablesIn(text, rel) : [],
        sqlModel: py && /\bsqlmodel\b/.test(text),
      });
    }
    for (const rel of [...this.facts.keys()]) if (!seen.has(rel) && this.facts.delete(rel)) this.generation++;
  }

  /** Changes whenever the folder's mapped classes or CREATE TABLEs may have (checked at most every FRESH_MS). */
  stamp(): number {
    this.refresh();
    return this.generation;
  }

  /** Every mapped class of the folder, importable or not (a table that has one needs no generated model). */
  allModels(): PythonModel[] {
    this.refresh();
    return [...this.facts.values()].flatMap((f) => f.models);
  }

  /** The folder's mapped classes, with the module each is imported from under the configured packageRoot (others left out). */
  models(): PythonModel[] {
    this.refresh();
    const root = repositoryConfig(this.config.rewrite.repository).python.packageRoot;
    return [...this.facts.values()].flatMap((f) => f.models.flatMap((m) => withPackageRoot(m, root) ?? []));
  }

  /** The first CREATE TABLE of a table in the folder (files in path order). */
  ddlFor(table: string): DdlTable | undefined {
    this.refresh();
    const rels = [...this.facts.keys()].sort();
    for (const rel of rels) {
      const t = this.facts.get(rel)!.tables.find((x) => x.table.toLowerCase() === table.toLowerCase());
      if (t) return t;
    }
    return undefined;
  }

  style(): 'declarative' | 'sqlmodel' {
    const configured = repositoryConfig(this.config.rewrite.repository).python.modelStyle;
    if (configured !== 'auto') return configured;
    this.refresh();
    return usesSqlModel([...this.facts.entries()].filter(([, f]) => f.sqlModel).map(([file, f]) => ({ file, text: f.text }))) ? 'sqlmodel' : 'declarative';
  }

  /** The model generated for a table from its CREATE TABLE into the configured models file. */
  generate(table: string): ReturnType<typeof generateModel> | undefined {
    const ddl = this.ddlFor(table);
    if (!ddl) return undefined;
    const modelsFile = repositoryConfig(this.config.rewrite.repository).python.models;
    return generateModel(ddl, { modelsFile, modelsFileText: this.read(modelsFile), style: this.style(), templates: this.templates });
  }
}

/**
 * "Generate model from CREATE TABLE" for each table of a raw-sql finding that has no mapped class
 * but a CREATE TABLE in the folder. A CREATE TABLE statement itself offers it too.
 */
export function generateModelActions(finding: Finding, models: WorkspaceModels): OfferedRewrite[] {
  if (finding.rule !== 'raw-sql') return [];
  const known = models.allModels();
  const out: OfferedRewrite[] = [];
  for (const table of finding.tables) {
    if (known.some((m) => m.table.toLowerCase() === table.toLowerCase())) continue;
    const g = models.generate(table);
    if (!g) continue;
    const title = `Generate model from CREATE TABLE ${table}`;
    if ('reason' in g) out.push({ id: `model:${table}`, title, preferred: false, verified: false, edits: [], reasonNotOffered: g.reason, label: 'model' });
    else out.push({ id: `model:${table}`, title: `Generate model ${g.model.className} from CREATE TABLE ${table}`, preferred: false, verified: true, edits: [], files: [g.change], label: 'model' });
  }
  return out;
}
