/**
 * The migration report (`sqlmigrate report`): Markdown or HTML with the trend chart as SVG.
 */
export * from './report';
export { escapeXml, niceTicks, trendSvg, type SvgOptions } from './svg';
export { chartPathFor, REPORT_USAGE, runReportCommand } from './cli';
