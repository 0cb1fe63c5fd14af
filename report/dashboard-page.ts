// The live dashboard's page (the HQ serves it at /): one HTML file with the chart library inlined,
// rendered once per process. Its data comes from the HQ's /events stream (hq/dashboard-stream.ts).
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { chartAssets } from './chart-assets.ts';

let cached: string | null = null;

export function dashboardPage(): string {
  if (cached) return cached;
  const template = readFileSync(new URL('./templates/dashboard.html', import.meta.url), 'utf8');
  cached = Handlebars.compile(template, { strict: false })({ chartAssets: chartAssets() });
  return cached;
}
