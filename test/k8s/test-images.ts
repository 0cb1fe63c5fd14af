// The images the podman tests run, built once: a base image from this machine's node (no registry),
// Dockerfile.hq and Dockerfile.turret on it, and a Postgres image from this machine's Debian
// Postgres standing in for the chart's official `postgres` one.
//
// scripts/test.mjs builds them once when both images.test.ts and kube-play.test.ts run, hands the
// tags over in OCT_TEST_IMAGES and removes them after; a test file run alone builds its own (with
// a unique tag) and removes them itself.
//   node --import tsx test/k8s/test-images.ts build      prints the tags as JSON
//   node --import tsx test/k8s/test-images.ts remove JSON
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { missingTools, PODMAN_TOOLS } from '../support/system-tools.ts';
import { must, podman, ROOT, run } from './podman.ts';

export interface TestImages {
  base: string;
  hq: string;
  turret: string;
  postgres: string;
}

export const IMAGES_ENV = 'OCT_TEST_IMAGES';

export function imageTags(tag: string): TestImages {
  return {
    base: `localhost/oct-test-base:${tag}`,
    hq: `localhost/oct-hq:${tag}`,
    turret: `localhost/oct-turret:${tag}`,
    postgres: `localhost/oct-test-postgres:${tag}`,
  };
}

// npm ci runs offline from the host's npm cache (filled by the project's own npm ci), mounted as an
// overlay so the build never writes to it. --layers=false: no cache to reuse (the base is new each
// time), and no untagged image of the deps stage left behind.
async function buildImage(file: string, image: string, base: string): Promise<void> {
  const cache = join(homedir(), '.npm');
  assert.ok(existsSync(join(cache, '_cacache')), `no npm cache at ${cache}: run npm ci first`);
  await podman(
    [
      'build',
      '-q',
      '--layers=false',
      '-f',
      file,
      '--network',
      'none',
      '--build-arg',
      `BASE_IMAGE=${base}`,
      '--build-arg',
      'NPM_FLAGS=--offline --cache /npm-cache',
      '-v',
      `${cache}:/npm-cache:O`,
      '-t',
      image,
      '.',
    ],
    { timeoutMs: 600_000 },
  );
}

export async function buildTestImages(tag: string): Promise<TestImages> {
  const images = imageTags(tag);
  await must('bash', [join(ROOT, 'test/k8s/make-base-image.sh'), images.base]);
  await must('bash', [join(ROOT, 'test/k8s/make-postgres-image.sh'), images.base, images.postgres]);
  await buildImage('Dockerfile.hq', images.hq, images.base);
  await buildImage('Dockerfile.turret', images.turret, images.base);
  return images;
}

export async function removeTestImages(images: TestImages): Promise<void> {
  await run('podman', ['rmi', '-f', images.hq, images.turret, images.postgres, images.base]);
}

/**
 * The images for one test file: those scripts/test.mjs built (not ours to remove), else built now
 * and removed by `release`.
 */
export async function acquireTestImages(): Promise<{ images: TestImages; release: () => Promise<void> }> {
  const given = process.env[IMAGES_ENV];
  if (given) return { images: JSON.parse(given) as TestImages, release: async () => {} };
  const images = await buildTestImages(`t${process.pid}`);
  return { images, release: () => removeTestImages(images) };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [cmd, arg] = process.argv.slice(2);
  if (cmd === 'build') {
    const missing = missingTools(PODMAN_TOOLS);
    if (missing) throw new Error(missing);
    process.stdout.write(`${JSON.stringify(await buildTestImages(`s${process.pid}`))}\n`);
  } else if (cmd === 'remove' && arg) {
    await removeTestImages(JSON.parse(arg) as TestImages);
  } else {
    throw new Error('usage: test-images.ts build | remove JSON');
  }
}
