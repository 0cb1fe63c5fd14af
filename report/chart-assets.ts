// The chart library and oct's chart code, as inline <style> and <script> elements: the report,
// the comparison page and the live dashboard inline the same bytes, so results.html stays one file
// that opens offline and the dashboard needs nothing but its HQ.
//
// uPlot (docs/dashboard.md says why): 51 KB minified for time series of tens of thousands of
// points drawn on a canvas in a few milliseconds, with hover values, drag-to-zoom and legend
// toggles built in, and no dependencies.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

let cached: string | null = null;

// Resolved from this file's URL (which the compiled build keeps, see bin/compiled.mjs), not the module's own location.
function file(specifier: string): string {
  return readFileSync(createRequire(import.meta.url).resolve(specifier), 'utf8');
}

/** A script body that cannot end its element early. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** `<style>` and `<script>` elements for uPlot and report/charts/oct-charts.js. */
export function chartAssets(): string {
  if (cached) return cached;
  const css = file('uplot/dist/uPlot.min.css');
  const lib = file('uplot/dist/uPlot.iife.min.js');
  const ours = readFileSync(new URL('./charts/oct-charts.js', import.meta.url), 'utf8');
  cached = `<style>${css.replace(/<\//g, '<\\/')}</style>\n<script>${scriptSafe(lib)}</script>\n<script>${scriptSafe(ours)}</script>`;
  return cached;
}
