// JUnit XML, one test case per threshold, so CI systems list each criterion with its verdict.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatMetric, type ThresholdVerdict } from './thresholds.ts';
import type { Validity } from './validity.ts';

// XML 1.0 forbids most control characters even as references: drop them, escape the rest.
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) => {
      const code = c.charCodeAt(0);
      const paired = code < 0xdc00 ? /[\uDC00-\uDFFF]/.test(all[i + 1] ?? '') : /[\uD800-\uDBFF]/.test(all[i - 1] ?? '');
      return paired ? c : '';
    })
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A planned run's validity as one more test case, so an INVALID run fails the CI job visibly. */
function validityCase(v: Validity): string {
  const detail = `${v.started} iterations started, ${v.dropped} dropped (${(v.droppedRatio * 100).toFixed(2)}%)`;
  const body = v.valid
    ? `\n      <system-out>${xmlEscape(detail)}</system-out>\n    `
    : `\n      <failure message="${xmlEscape(`run INVALID: ${v.reasons.join('; ')}`)}" type="RunInvalid">${xmlEscape(`${detail}\n${v.reasons.join('\n')}`)}</failure>\n    `;
  return `    <testcase name="load generator kept the plan" classname="oct.validity" time="0">${body}</testcase>`;
}

export function junitXml(verdict: ThresholdVerdict, opts: { suite?: string; timestamp?: Date; validity?: Validity } = {}): string {
  const judged = opts.validity?.judged ? opts.validity : null;
  const failures = verdict.results.filter((r) => !r.passed).length + (judged && !judged.valid ? 1 : 0);
  const tests = verdict.results.length + (judged ? 1 : 0);
  const suite = xmlEscape(opts.suite ?? 'oct thresholds');
  const ts = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '');
  const cases = verdict.results.map((r) => {
    const name = xmlEscape(`${r.series}: ${r.metric} ${r.expression}`);
    const cls = xmlEscape(`oct.thresholds.${r.series}`);
    const body = r.passed
      ? `\n      <system-out>${xmlEscape(r.detail)}</system-out>\n    `
      : `\n      <failure message="${xmlEscape(r.detail)}" type="ThresholdFailed">${xmlEscape(
          `${r.key}: expected ${r.metric} ${r.expression}, measured ${formatMetric(r.metric, r.actual)}`,
        )}</failure>\n    `;
    return `    <testcase name="${name}" classname="${cls}" time="0">${body}</testcase>`;
  });
  if (judged) cases.unshift(validityCase(judged));
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="oct" tests="${tests}" failures="${failures}" errors="0">\n` +
    `  <testsuite name="${suite}" tests="${tests}" failures="${failures}" errors="0" skipped="0" timestamp="${ts}">\n` +
    cases.join('\n') +
    (cases.length ? '\n' : '') +
    `  </testsuite>\n</testsuites>\n`
  );
}

export function writeJunit(verdict: ThresholdVerdict, path: string, validity?: Validity): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, junitXml(verdict, { validity }));
}
