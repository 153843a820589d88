/**
 * Explorer decorations: a badge with the number of statements left on each file that has any.
 * Badges hold at most two characters (VS Code's rule), so 100 and more show as "99"; the
 * tooltip has the exact count.
 */
import * as vscode from 'vscode';
import type { ProgressResult } from '../../server/src/protocol';

export class RemainingDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private counts = new Map<string, number>();

  update(p: ProgressResult | undefined): void {
    const next = new Map<string, number>();
    for (const folder of p?.folders ?? []) for (const f of folder.files) if (f.remaining > 0) next.set(vscode.Uri.parse(f.uri).toString(), f.remaining);
    const touched = new Set([...this.counts.keys(), ...next.keys()].filter((k) => this.counts.get(k) !== next.get(k)));
    this.counts = next;
    if (touched.size) this.changed.fire([...touched].map((k) => vscode.Uri.parse(k)));
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    const n = this.counts.get(uri.toString());
    if (!n) return undefined;
    const d = new vscode.FileDecoration(n > 99 ? '99' : String(n), `${n} raw SQL statement${n === 1 ? '' : 's'} left to migrate`, new vscode.ThemeColor('list.warningForeground'));
    d.propagate = false;
    return d;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
