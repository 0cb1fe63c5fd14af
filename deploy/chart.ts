// Where the chart lives, and writing a self-contained chart directory (`oct deploy --render`).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { DeployError, mergeValues } from './values.ts';

export const CHART_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'charts', 'oct');

/**
 * The chart's values.yaml with `values` merged in. Keys are replaced inside the parsed document so
 * the chart's comments stay for the user reading the rendered chart.
 */
export function mergeIntoValuesYaml(valuesYaml: string, values: Record<string, unknown>): string {
  const doc = parseDocument(valuesYaml);
  const current = (doc.toJS() ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) doc.set(k, doc.createNode(mergeValues(current[k], v)));
  return doc.toString({ lineWidth: 0 });
}

/** Copies the chart to `outDir` with `values` as its defaults: `helm install NAME outDir` as is. */
export function renderChartDir(outDir: string, values: Record<string, unknown>, chartDir = CHART_DIR): string[] {
  const target = resolve(outDir);
  if (existsSync(target) && readdirSync(target).length > 0 && !existsSync(join(target, 'Chart.yaml'))) {
    throw new DeployError(`${outDir} exists and is not a chart directory: choose an empty or new folder`);
  }
  mkdirSync(target, { recursive: true });
  cpSync(chartDir, target, { recursive: true });
  const valuesPath = join(target, 'values.yaml');
  writeFileSync(valuesPath, mergeIntoValuesYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8'), values));
  return [join(target, 'Chart.yaml'), valuesPath];
}
