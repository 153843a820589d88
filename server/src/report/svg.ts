/**
 * The trend chart as SVG, rendered on the server (no script): statements left over time, the
 * baseline and target lines, and the projection from the recent rate. Every piece of text
 * that comes from the workspace is escaped; the chart follows the reader's light or dark
 * scheme through a media query, so it reads well as a committed image on GitHub too.
 */
import type { BurndownData } from '../history/trend';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const DAY = 86_400_000;

/** 1, 2, 5 × 10^k steps giving about `count` ticks from 0 to max. */
export function niceTicks(max: number, count = 5): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) {
    ticks.push(Math.round(v * 1e6) / 1e6);
    if (v >= max) break;
  }
  return ticks;
}

export interface SvgOptions {
  width?: number;
  height?: number;
  title?: string;
}

export function trendSvg(data: BurndownData, options: SvgOptions = {}): string {
  const W = options.width ?? 760;
  const H = options.height ?? 300;
  const title = options.title ?? 'Statements left to migrate over time';
  const m = { top: 36, right: 24, bottom: 44, left: 52 };
  const style = `<style>
  .bg { fill: #ffffff; } .axis { stroke: #8c959f; stroke-width: 1; } .grid { stroke: #d0d7de; stroke-width: 1; }
  text { font: 12px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill: #57606a; } .title { font-size: 14px; font-weight: 600; fill: #24292f; }
  .left { fill: none; stroke: #0969da; stroke-width: 2.5; } .dot { fill: #0969da; }
  .baseline { stroke: #6e7781; stroke-width: 1.5; stroke-dasharray: 6 4; } .target { stroke: #1a7f37; stroke-width: 1.5; stroke-dasharray: 2 3; }
  .projection { fill: none; stroke: #bc4c00; stroke-width: 1.8; stroke-dasharray: 6 4; }
  @media (prefers-color-scheme: dark) {
    .bg { fill: #0d1117; } .grid { stroke: #30363d; } .axis { stroke: #6e7681; } text { fill: #8b949e; } .title { fill: #e6edf3; }
    .left { stroke: #58a6ff; } .dot { fill: #58a6ff; } .baseline { stroke: #8b949e; } .target { stroke: #3fb950; } .projection { stroke: #f0883e; }
  }
</style>`;
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="sqlm-title sqlm-desc">`;
  const points = data.points.filter((p) => p.source !== 'baseline');
  const series = points.length ? points : data.points;
  if (!series.length) {
    return [
      head,
      `<title id="sqlm-title">${escapeXml(title)}</title>`,
      `<desc id="sqlm-desc">No history yet.</desc>`,
      style,
      `<rect class="bg" width="${W}" height="${H}" rx="6"/>`,
      `<text class="title" x="${W / 2}" y="${H / 2 - 8}" text-anchor="middle">No history yet</text>`,
      `<text x="${W / 2}" y="${H / 2 + 14}" text-anchor="middle">Run sqlmigrate history to record points from git, or record a baseline.</text>`,
      '</svg>',
    ].join('\n') + '\n';
  }

  const t0 = Date.parse(series[0].date);
  const tLast = Date.parse(series[series.length - 1].date);
  const span = Math.max(tLast - t0, DAY);
  const horizon = tLast + Math.max(span, 30 * DAY);
  const proj = data.projection;
  const projEnd = proj?.completion ? Math.min(Date.parse(proj.completion), horizon) : undefined;
  const t1 = Math.max(tLast, projEnd ?? tLast, t0 + DAY);
  const yMax = Math.max(1, ...series.map((p) => p.remaining), data.baseline?.remaining ?? 0);
  const ticks = niceTicks(yMax);
  const top = ticks[ticks.length - 1];
  const x = (t: number) => m.left + ((t - t0) / (t1 - t0)) * (W - m.left - m.right);
  const y = (v: number) => H - m.bottom - (v / top) * (H - m.top - m.bottom);
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [head];
  const last = series[series.length - 1];
  const desc = `${last.remaining} left on ${last.date.slice(0, 10)}${data.baseline ? `, ${data.baseline.remaining} at the baseline` : ''}${data.target ? `, target ${data.target.remaining}` : ''}${proj?.completion ? `, projected completion ${proj.completion.slice(0, 10)}` : ''}.`;
  out.push(`<title id="sqlm-title">${escapeXml(title)}</title>`, `<desc id="sqlm-desc">${escapeXml(desc)}</desc>`, style);
  out.push(`<rect class="bg" width="${W}" height="${H}" rx="6"/>`);
  out.push(`<text class="title" x="${m.left}" y="22">${escapeXml(title)}</text>`);
  for (const v of ticks) {
    out.push(`<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${f(y(v))}" y2="${f(y(v))}"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  out.push(`<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}"/>`);
  const xTicks = 5;
  for (let i = 0; i <= xTicks; i++) {
    const t = t0 + ((t1 - t0) * i) / xTicks;
    out.push(`<text x="${f(x(t))}" y="${H - m.bottom + 18}" text-anchor="${i === 0 ? 'start' : i === xTicks ? 'end' : 'middle'}">${escapeXml(new Date(t).toISOString().slice(0, 10))}</text>`);
  }
  if (data.baseline) out.push(`<line class="baseline" x1="${m.left}" x2="${W - m.right}" y1="${f(y(data.baseline.remaining))}" y2="${f(y(data.baseline.remaining))}"><title>baseline: ${data.baseline.remaining}</title></line>`);
  if (data.target) out.push(`<line class="target" x1="${m.left}" x2="${W - m.right}" y1="${f(y(data.target.remaining))}" y2="${f(y(data.target.remaining))}"><title>target: ${data.target.remaining}</title></line>`);
  if (proj && projEnd !== undefined && projEnd > tLast) {
    const rate = proj.ratePerWeek / (7 * DAY);
    const endValue = Math.max(0, last.remaining - rate * (projEnd - tLast));
    out.push(`<path class="projection" d="M${f(x(tLast))},${f(y(last.remaining))} L${f(x(projEnd))},${f(y(endValue))}"><title>projection at ${proj.ratePerWeek} per week</title></path>`);
  }
  const d = series.map((p, i) => `${i ? 'L' : 'M'}${f(x(Date.parse(p.date)))},${f(y(p.remaining))}`).join(' ');
  out.push(`<path class="left" d="${d}"/>`);
  if (series.length <= 120) {
    for (const p of series) {
      out.push(`<circle class="dot" cx="${f(x(Date.parse(p.date)))}" cy="${f(y(p.remaining))}" r="3"><title>${escapeXml(`${p.date.slice(0, 10)}${p.commit ? ` ${p.commit.slice(0, 10)}` : ''}: ${p.remaining} left`)}</title></circle>`);
    }
  }
  // Legend.
  const items: Array<[string, string]> = [['left', 'left to migrate']];
  if (data.baseline) items.push(['baseline', 'baseline']);
  if (data.target) items.push(['target', 'target']);
  if (proj && projEnd !== undefined && projEnd > tLast) items.push(['projection', 'projection']);
  let lx = W - m.right;
  const legend: string[] = [];
  for (const [cls, label] of items.reverse()) {
    const w = 28 + label.length * 6.5;
    lx -= w;
    legend.push(`<line class="${cls}" x1="${f(lx)}" x2="${f(lx + 18)}" y1="18" y2="18"/><text x="${f(lx + 22)}" y="22">${escapeXml(label)}</text>`);
  }
  out.push(...legend);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
