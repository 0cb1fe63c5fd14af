#!/usr/bin/env node
// The test command: type-check, lint and format check, start one throwaway Postgres for the whole
// run, then run every *.test.ts with node's test runner (through tsx). Extra arguments are passed
// to node --test (e.g. `npm test -- --test-name-pattern=legacy`) or name test files to run instead
// of all. `--unit` (npm run test:unit) runs only the quick tier below, without Postgres.
import { execFileSync, spawn } from 'node:child_process';
import { startCluster } from './pg-cluster.mjs';

// The quick tier for the edit-test loop: tests that start no server, no child process and no
// database (about 30 s on 2 cores). A new test of that kind belongs here too.
const QUICK = [
  'cli/progress.test.ts',
  'deploy/values.test.ts',
  'hq/http-server.test.ts',
  'hq/aggregator.test.ts',
  'hq/dashboard-feed.test.ts',
  'hq/data-split.test.ts',
  'hq/load-planner.test.ts',
  'hq/observer-publisher.test.ts',
  'hq/security.test.ts',
  'hq/sequence-tracker.test.ts',
  'hq/turret-registry.test.ts',
  'protocol/aggregate.test.ts',
  'protocol/config.test.ts',
  'protocol/curve-key.test.ts',
  'protocol/data-file.test.ts',
  'protocol/histogram.test.ts',
  'protocol/incoming.test.ts',
  'protocol/load-plan.test.ts',
  'protocol/orders.test.ts',
  'report/aggregate-stats.test.ts',
  'report/thresholds.test.ts',
  'store/histogram-bytes.test.ts',
  'store/spill-file.test.ts',
  'test/architecture.test.ts',
  'test/k8s/follow-run.test.ts',
  'test/k8s/kube-play-convert.test.ts',
  'turret/backpressure.test.ts',
  'turret/http1-client.test.ts',
  'turret/http1-parser.test.ts',
  'turret/http-client.test.ts',
  'turret/script-features.test.ts',
];

// Known-answer timing tests (latency from the intended start against a stall pattern, rates to 1%,
// a threshold abort within 2 s, a killed turret lost within 3 s)
// measure the load generator itself: they run after the rest, alone, not beside an image build.
// The chart played under podman scales a turret mid-run: alone too.
const SOLO = [
  'test/e2e/dashboard.test.ts',
  'test/e2e/hq-restart.test.ts',
  'test/e2e/statistics.test.ts',
  'test/e2e/store-outage.test.ts',
  'test/e2e/turret-loss.test.ts',
  'test/e2e/workload.test.ts',
  'test/k8s/kube-play.test.ts',
];

// The podman tests' images (base, HQ, turret, Postgres; ~1 min of CPU) are built once when both
// run, before any tier, and handed over in OCT_TEST_IMAGES; a file run alone builds its own.
const IMAGE_TESTS = ['test/k8s/images.test.ts', 'test/k8s/kube-play.test.ts'];
function buildSharedImages() {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/k8s/test-images.ts', 'build'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return out.trim().split('\n').pop();
  } catch (err) {
    console.log(
      `shared image build failed, each podman test builds its own: ${String(err.stderr ?? err)
        .trim()
        .split('\n')
        .slice(-3)
        .join(' ')}`,
    );
    return null;
  }
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts') && a !== '--unit');

if (!files.length) {
  console.log('type-checking…');
  execFileSync('npx', ['tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
  console.log('lint and format check…');
  execFileSync('npx', ['biome', 'ci', '.'], { stdio: 'inherit' });
}
const testFiles = files.length
  ? files
  : unit
    ? QUICK
    : execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.test.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();

let sharedImages = null;
if (!process.env.OCT_TEST_IMAGES && IMAGE_TESTS.every((f) => testFiles.includes(f))) {
  console.log('building the podman test images…');
  sharedImages = buildSharedImages();
  if (sharedImages) process.env.OCT_TEST_IMAGES = sharedImages;
}

let cluster = null;
if (!process.env.OCT_TEST_DATABASE_URL && !unit) {
  cluster = await startCluster();
  process.env.OCT_TEST_DATABASE_URL = cluster.url;
}
function runTests(list, concurrency) {
  if (!list.length) return Promise.resolve(0);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...flags, ...list], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
}
const together = testFiles.filter((f) => !SOLO.includes(f));
const alone = testFiles.filter((f) => SOLO.includes(f));
const code = (await runTests(together, 2)) || 0;
const soloCode = await runTests(alone, 1);
cluster?.stop();
if (sharedImages) execFileSync(process.execPath, ['--import', 'tsx', 'test/k8s/test-images.ts', 'remove', sharedImages], { stdio: 'inherit' });
process.exit(code || soloCode);
