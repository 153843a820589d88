/**
 * The "Migration progress" tree: a summary (migrated / baseline, %, target), then the files
 * with findings grouped by folder, rule or status, then each file's findings (selecting one
 * reveals its range). Data comes from the server (`sqlmigrate/progress`, and
 * `sqlmigrate/fileFindings` when a file is expanded); nothing is computed here that the server
 * already knows.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FileProgress, FileStatus, FindingItem, FolderProgress, ProgressResult } from '../../server/src/protocol';

export type GroupBy = 'folder' | 'rule' | 'status';

export const STATUS_LABEL: Record<FileStatus, string> = {
  'not-started': 'Not started',
  'in-progress': 'In progress',
  done: 'Done',
  kept: 'Kept on purpose',
};

const STATUS_ICON: Record<FileStatus, [string, string | undefined]> = {
  'not-started': ['circle-large-outline', 'list.warningForeground'],
  'in-progress': ['record', 'charts.yellow'],
  done: ['pass-filled', 'testing.iconPassed'],
  kept: ['lock', undefined],
};

export type Node =
  | { type: 'summary'; id: string; folder: FolderProgress; multi: boolean }
  | { type: 'detail'; id: string; label: string; description?: string; tooltip?: string; icon?: string; parent: Node; command?: vscode.Command }
  | { type: 'workspace'; id: string; folder: FolderProgress; parent?: undefined }
  | { type: 'group'; id: string; label: string; description: string; icon: vscode.ThemeIcon; files: FileProgress[]; rule?: string; parent?: Node }
  | { type: 'file'; id: string; file: FileProgress; rule?: string; parent?: Node }
  | { type: 'finding'; id: string; uri: string; finding: FindingItem; parent: Node }
  | { type: 'message'; id: string; label: string; parent?: undefined };

export interface TreeSource {
  progress(): Promise<ProgressResult | undefined>;
  fileFindings(uri: string): Promise<FindingItem[]>;
}

export function percent(p: number | null): string {
  return p === null ? '–' : `${Math.round(p * 100)}%`;
}

export function fileDescription(f: FileProgress): string {
  const parts = [`${f.remaining} raw`];
  if (f.kept) parts.push(`${f.kept} kept`);
  if (f.progress !== null) parts.push(percent(f.progress));
  if (f.deleted) parts.push('deleted');
  return parts.join(' · ');
}

export function summaryLabel(f: FolderProgress): string {
  if (!f.baseline) return `${f.remaining} left · no baseline yet`;
  return `${percent(f.progress)} migrated · ${f.remaining} left`;
}

export function summaryDescription(f: FolderProgress): string {
  const parts: string[] = [];
  if (f.baseline) parts.push(`${Math.max(0, f.migrated)} / ${f.baseline.remaining} done`);
  if (f.kept) parts.push(`${f.kept} kept`);
  if (f.target) parts.push(`target ${Math.round(f.target.reduction * 100)}%${f.target.reached ? ' ✓' : ''}`);
  return parts.join(' · ');
}

export class ProgressTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  groupBy: GroupBy = 'folder';
  remainingOnly = false;
  data: ProgressResult | undefined;
  private roots: Node[] = [];
  private readonly children = new Map<string, Node[]>();
  private readonly findingCache = new Map<string, FindingItem[]>();

  constructor(private readonly source: TreeSource) {}

  async refresh(): Promise<void> {
    this.data = await this.source.progress();
    this.rebuild();
  }

  setGroupBy(g: GroupBy): void {
    this.groupBy = g;
    this.rebuild();
  }

  setRemainingOnly(v: boolean): void {
    this.remainingOnly = v;
    this.rebuild();
  }

  private rebuild(): void {
    this.children.clear();
    this.findingCache.clear();
    this.roots = this.buildRoots();
    this.changed.fire(undefined);
  }

  private buildRoots(): Node[] {
    const data = this.data;
    if (!data) return [{ type: 'message', id: 'msg:starting', label: 'Starting the sqlmigrate server…' }];
    if (!data.folders.length) return [{ type: 'message', id: 'msg:nofolder', label: 'Open a folder to track its migration.' }];
    const multi = data.folders.length > 1;
    if (multi) return data.folders.map((folder) => ({ type: 'workspace', id: `ws:${folder.uri}`, folder }));
    return this.folderChildren(data.folders[0], undefined, false);
  }

  private folderChildren(folder: FolderProgress, parent: Node | undefined, multi: boolean): Node[] {
    const out: Node[] = [{ type: 'summary', id: `summary:${folder.uri}`, folder, multi }];
    const files = folder.files.filter((f) => !this.remainingOnly || f.remaining > 0);
    if (this.data?.state === 'scanning' && !files.length) {
      out.push({ type: 'detail', id: `scanning:${folder.uri}`, label: 'Scanning…', icon: 'sync~spin', parent: out[0] });
    }
    const groups = new Map<string, { label: string; description: string; icon: vscode.ThemeIcon; files: FileProgress[]; rule?: string }>();
    if (this.groupBy === 'folder') {
      for (const f of files) {
        const dir = path.posix.dirname(f.path);
        const key = dir === '.' ? '(root)' : dir;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { label: key, description: '', icon: vscode.ThemeIcon.Folder, files: [] }));
        g.files.push(f);
      }
    } else if (this.groupBy === 'rule') {
      for (const f of files) {
        for (const [rule, n] of Object.entries(f.rules)) {
          if (!n) continue;
          let g = groups.get(rule);
          if (!g) groups.set(rule, (g = { label: rule, description: '', icon: new vscode.ThemeIcon('symbol-event'), files: [], rule }));
          g.files.push(f);
        }
        if (!this.remainingOnly && f.kept) {
          let g = groups.get('~kept');
          if (!g) groups.set('~kept', (g = { label: 'kept on purpose', description: '', icon: new vscode.ThemeIcon('lock'), files: [] }));
          g.files.push(f);
        }
      }
    } else {
      const order: FileStatus[] = ['not-started', 'in-progress', 'kept', 'done'];
      for (const s of order) {
        const inStatus = files.filter((f) => f.status === s);
        if (inStatus.length) {
          const [icon, color] = STATUS_ICON[s];
          groups.set(s, { label: STATUS_LABEL[s], description: '', icon: new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined), files: inStatus });
        }
      }
    }
    const keys = this.groupBy === 'status' ? [...groups.keys()] : [...groups.keys()].sort();
    for (const key of keys) {
      const g = groups.get(key)!;
      const remaining = g.files.reduce((n, f) => n + (g.rule ? f.rules[g.rule] ?? 0 : f.remaining), 0);
      const kept = g.files.reduce((n, f) => n + f.kept, 0);
      g.description = `${g.files.length} file${g.files.length === 1 ? '' : 's'} · ${g.rule ? `${remaining} left` : `${remaining} raw${kept && key !== '~kept' ? ` · ${kept} kept` : ''}`}`;
      if (key === '~kept') g.description = `${g.files.length} file${g.files.length === 1 ? '' : 's'} · ${kept} kept`;
      out.push({ type: 'group', id: `group:${folder.uri}:${this.groupBy}:${key}`, label: g.label, description: g.description, icon: g.icon, files: g.files, rule: g.rule, parent });
    }
    return out;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.type) {
      case 'message': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        return item;
      }
      case 'summary': {
        const f = node.folder;
        const item = new vscode.TreeItem(summaryLabel(f), vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.description = summaryDescription(f);
        item.iconPath = new vscode.ThemeIcon(f.baselineError || f.configError ? 'warning' : 'graph');
        item.contextValue = 'summary';
        item.tooltip = new vscode.MarkdownString(summaryTooltip(f));
        return item;
      }
      case 'detail': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = node.description;
        item.tooltip = node.tooltip;
        if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
        item.command = node.command;
        return item;
      }
      case 'workspace': {
        const item = new vscode.TreeItem(node.folder.name, vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.description = `${percent(node.folder.progress)} · ${node.folder.remaining} left`;
        item.iconPath = vscode.ThemeIcon.Folder;
        return item;
      }
      case 'group': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.description = node.description;
        item.iconPath = node.icon;
        item.contextValue = 'group';
        return item;
      }
      case 'file': {
        const f = node.file;
        const item = new vscode.TreeItem(path.posix.basename(f.path), f.remaining + f.kept > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.resourceUri = vscode.Uri.parse(f.uri);
        item.description = fileDescription(f);
        const [icon, color] = STATUS_ICON[f.status];
        item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
        item.tooltip = new vscode.MarkdownString(
          `**${f.path}** — ${STATUS_LABEL[f.status]}\n\n${f.remaining} left to migrate, ${f.kept} kept on purpose` +
            (f.baseline ? `, ${f.baseline} at the baseline (${percent(f.progress)} done)` : '') +
            (Object.keys(f.rules).length ? `\n\n${Object.entries(f.rules).map(([r, n]) => `- \`${r}\`: ${n}`).join('\n')}` : ''),
        );
        item.contextValue = `file-${f.status}`;
        if (!f.deleted) item.command = { title: 'Open', command: 'vscode.open', arguments: [item.resourceUri] };
        return item;
      }
      case 'finding': {
        const x = node.finding;
        const what = x.kind === 'session' ? x.rule : `${x.kind === 'ddl' ? 'DDL' : x.kind.toUpperCase()}${x.tables.length ? ' ' + x.tables.join(', ') : ''}`;
        const item = new vscode.TreeItem(`L${x.range.start.line + 1} ${what}`, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        const notes = [x.complexity];
        if (x.dynamic) notes.push('dynamic');
        if (x.kept !== null) notes.push('kept');
        if (x.rule !== 'raw-sql') notes.unshift(x.rule);
        item.description = notes.join(' · ');
        item.tooltip = x.kept !== null ? `${x.message}\n\nKept on purpose: ${x.kept}` : x.message;
        item.iconPath = new vscode.ThemeIcon(x.kept !== null ? 'lock' : x.dynamic ? 'warning' : 'database', x.dynamic && x.kept === null ? new vscode.ThemeColor('list.warningForeground') : undefined);
        item.contextValue = x.kept !== null ? 'finding-kept' : 'finding';
        item.command = { title: 'Reveal', command: 'sqlmigrate.openFinding', arguments: [node.uri, x.range] };
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return this.roots;
    const cached = this.children.get(node.id);
    if (cached) return cached;
    let out: Node[] = [];
    switch (node.type) {
      case 'workspace':
        out = this.folderChildren(node.folder, node, true);
        break;
      case 'summary':
        out = summaryDetails(node);
        break;
      case 'group':
        out = node.files.map((file) => ({ type: 'file', id: `file:${node.rule ?? ''}:${file.uri}`, file, rule: node.rule, parent: node }));
        break;
      case 'file': {
        let findings = this.findingCache.get(node.file.uri);
        if (!findings) {
          findings = await this.source.fileFindings(node.file.uri);
          this.findingCache.set(node.file.uri, findings);
        }
        out = findings
          .filter((f) => (!node.rule || f.rule === node.rule) && (!this.remainingOnly || f.kept === null))
          .map((finding) => ({ type: 'finding', id: `finding:${node.rule ?? ''}:${node.file.uri}:${finding.range.start.line}:${finding.range.start.character}:${finding.rule}`, uri: node.file.uri, finding, parent: node }));
        break;
      }
      default:
        out = [];
    }
    this.children.set(node.id, out);
    return out;
  }

  getParent(node: Node): Node | undefined {
    return 'parent' in node ? node.parent : undefined;
  }

  /** The file node (and, when a range is given, the finding node) for a document, for reveal. */
  async find(uri: string, range?: { start: { line: number } }): Promise<Node | undefined> {
    const key = vscode.Uri.parse(uri).toString();
    const groups: Node[] = [];
    for (const r of this.roots) {
      if (r.type === 'group') groups.push(r);
      if (r.type === 'workspace') groups.push(...(await this.getChildren(r)).filter((n) => n.type === 'group'));
    }
    for (const g of groups) {
      for (const f of await this.getChildren(g)) {
        if (f.type !== 'file' || vscode.Uri.parse(f.file.uri).toString() !== key) continue;
        if (!range) return f;
        const findings = await this.getChildren(f);
        return findings.find((n) => n.type === 'finding' && n.finding.range.start.line === range.start.line) ?? findings.find((n) => n.type === 'finding' && n.finding.range.start.line >= range.start.line) ?? f;
      }
    }
    return undefined;
  }

  /** A plain snapshot of what the tree shows (labels and descriptions, expanded fully) — for tests and the "copy" command. */
  async snapshot(depth = 4): Promise<Array<{ label: string; description?: string; contextValue?: string; children?: unknown[] }>> {
    const walk = async (nodes: Node[], d: number): Promise<Array<{ label: string; description?: string; contextValue?: string; children?: unknown[] }>> => {
      const out = [];
      for (const n of nodes) {
        const item = this.getTreeItem(n);
        const label = typeof item.label === 'string' ? item.label : item.label?.label ?? '';
        const entry: { label: string; description?: string; contextValue?: string; children?: unknown[] } = { label, description: typeof item.description === 'string' ? item.description : undefined, contextValue: item.contextValue };
        if (d > 0 && item.collapsibleState !== vscode.TreeItemCollapsibleState.None) entry.children = await walk(await this.getChildren(n), d - 1);
        out.push(entry);
      }
      return out;
    };
    return walk(this.roots, depth);
  }
}

function summaryTooltip(f: FolderProgress): string {
  const lines = [`**${f.name}**`, ''];
  if (f.baseline) {
    lines.push(`Baseline: ${f.baseline.remaining} statements, recorded ${f.baseline.recordedAt.slice(0, 10)}${f.baseline.commit ? ` at ${f.baseline.commit.slice(0, 8)}` : ''}`);
    lines.push(`Progress: ${percent(f.progress)} (1 − ${f.remaining} / ${f.baseline.remaining})`);
  } else {
    lines.push('No baseline yet: use **Record baseline** to start measuring progress.');
  }
  lines.push(`Kept on purpose: ${f.kept}`);
  if (f.target) lines.push(`Target: ${Math.round(f.target.reduction * 100)}% fewer (≤ ${f.target.remaining} left) — ${f.target.reached ? 'reached' : `${f.remaining - f.target.remaining} to go`}`);
  if (f.baselineError) lines.push('', `⚠️ ${f.baselineError}`);
  if (f.configError) lines.push('', `⚠️ ${f.configError}`);
  return lines.join('\n\n');
}

function summaryDetails(node: Extract<Node, { type: 'summary' }>): Node[] {
  const f = node.folder;
  const d = (key: string, label: string, description?: string, icon?: string, command?: vscode.Command, tooltip?: string): Node => ({ type: 'detail', id: `${node.id}:${key}`, label, description, icon, parent: node, command, tooltip });
  const out: Node[] = [];
  if (f.baseline) {
    out.push(d('baseline', `Baseline: ${f.baseline.remaining} statements`, `${f.baseline.recordedAt.slice(0, 10)}${f.baseline.commit ? ` · ${f.baseline.commit.slice(0, 8)}` : ''}`, 'pinned'));
    out.push(d('migrated', `Migrated: ${f.migrated}`, percent(f.progress), 'pass'));
  } else {
    out.push(d('baseline', 'No baseline yet', 'record one to measure progress', 'pinned', { title: 'Record baseline', command: 'sqlmigrate.recordBaseline' }));
  }
  out.push(d('remaining', `Left to migrate: ${f.remaining}`, Object.entries(f.rules).filter(([, n]) => n).map(([r, n]) => `${r} ${n}`).join(' · '), 'database'));
  out.push(d('kept', `Kept on purpose: ${f.kept}`, undefined, 'lock'));
  if (f.target) out.push(d('target', `Target: ${Math.round(f.target.reduction * 100)}% fewer (≤ ${f.target.remaining} left)`, f.target.reached ? 'reached' : `${f.remaining - f.target.remaining} to go`, 'target'));
  if (f.baselineError) out.push(d('baselineError', 'Baseline unusable', f.baselineError, 'warning', undefined, f.baselineError));
  if (f.configError) out.push(d('configError', 'Invalid .sqlmigrate.json (defaults used)', f.configError, 'warning', undefined, f.configError));
  return out;
}
