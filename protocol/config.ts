// The project's config.json and a turret's config, parsed once into typed values. Keys and defaults
// are the original OCT's; oct's additions are optional and documented in README.md.
import { RESULTS_STORAGE, type ResultsStorage } from './orders.ts';
import { z } from 'zod';
import { MAX_STAGES } from './load-plan.ts';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`invalid configuration in ${source}:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const seconds = z.number().finite().nonnegative();
const port = z.number().int().min(0).max(65535);

// Workload: a stage list ramps linearly between targets (canons, or iterations/s in the open model).
const stageSchema = z.object({ duration: seconds, target: z.number().finite().nonnegative() }).strict();
const stagesSchema = z
  .array(stageSchema)
  .min(1, 'needs at least one {"duration": seconds, "target": number} stage')
  .max(MAX_STAGES)
  .refine((st) => st.some((s) => s.duration > 0), 'the stages must last longer than 0 s in all');
/** When a planned run counts as INVALID (report/validity.ts, docs/workload.md). */
export const VALIDITY_DEFAULTS = { max_dropped_ratio: 0.01, max_schedule_lag_ms: 100, max_loop_delay_ms: 200, max_bad_seconds_ratio: 0.05 };

/** Ceiling on a turret's canon pool: one canon is one Transaction object and its sockets. */
export const MAX_CANONS_LIMIT = 100_000;
const maxCanons = z.number().int().positive().max(MAX_CANONS_LIMIT);
const canonCount = z
  .number()
  .int()
  .positive()
  .max(MAX_CANONS_LIMIT, { message: `at most ${MAX_CANONS_LIMIT.toLocaleString('en-US')} canons per turret (use more turrets, or replicas)` });

// ctx.http's settings for every turret (README, "HTTP options"). TLS files are paths in the project;
// `oct run` hands turrets absolute paths, `oct pack-turrets` packs the files.
const tlsSchema = z
  .object({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .strict()
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), { message: 'a client certificate needs both "cert_file" and "key_file"' });
export const HTTP_DEFAULTS = { client: 'oct' as const, max_redirects: 10, timeout: 60, request_metrics: true, cookies: true };
export const httpConfigSchema = z
  .object({
    // oct: the turret's own HTTP/1.1 connections, one set per canon; undici: its pooled Agent, for
    // what the first does not do (pipelining, proxies, HTTP/2 some day).
    client: z.enum(['oct', 'undici']).default('oct'),
    max_redirects: z.number().int().min(0).max(100).default(10),
    // Seconds per request, body included; a request's own timeoutMs overrides it.
    timeout: z.number().finite().positive().max(86_400).default(60),
    request_metrics: z.boolean().default(true),
    cookies: z.boolean().default(true),
    tls: tlsSchema.optional(),
  })
  .strict()
  .default(HTTP_DEFAULTS);
export type HttpConfig = z.infer<typeof httpConfigSchema>;

// Values are checked, naming the key, by parseThresholds (report/thresholds.ts) when the project loads.
export const thresholdsSchema = z.record(z.string(), z.unknown());

const turretEntrySchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit'),
    // Each canon is a Transaction object, its timers and sockets: past the limit a turret exhausts
    // its memory (canons: 1e12 stopped a turret reading orders), so it fails here instead.
    canons: canonCount.optional(),
    cannons: canonCount.optional(),
    rampup: seconds.default(0),
    script: z.string().min(1),
    extra_files: z.array(z.string()).default([]),
    // Kubernetes only: how many turret pods run this entry.
    replicas: z.number().int().positive().default(1),
    // Workload (docs/workload.md): this entry's own stages (not split with the other turrets), its
    // share of the project's stages, its open-model canon pool, its closed-model pacing.
    stages: stagesSchema.optional(),
    start_target: z.number().finite().nonnegative().optional(),
    weight: z.number().finite().positive().optional(),
    max_canons: maxCanons.optional(),
    pacing: seconds.optional(),
  })
  .passthrough()
  .transform((t, ctx) => {
    const canons = t.canons ?? t.cannons;
    if (canons === undefined) {
      ctx.addIssue({ code: 'custom', message: 'required: "canons" (or the original\'s spelling "cannons")', path: ['canons'] });
      return z.NEVER;
    }
    const { cannons: _c, ...rest } = t;
    return { ...rest, canons };
  });

const peakOf = (stages: { target: number }[], start: number) => Math.max(start, ...stages.map((s) => s.target));
const fmtCanons = (n: number) => Math.ceil(n).toLocaleString('en-US');

/**
 * Closed-model stages are canons, split over the turrets by weight (hq/load-planner.ts): a share
 * above MAX_CANONS_LIMIT would exhaust a turret's memory, so it is refused here, naming the stage
 * list. The turret caps what a plan asks for too (a retarget, turrets that are not listed here).
 */
function closedSharesWithinLimit(
  c: {
    stages?: { target: number }[];
    start_target: number;
    turrets: { name: string; stages?: { target: number }[]; start_target?: number; weight?: number; canons: number; replicas: number }[];
  },
  ctx: z.RefinementCtx,
): void {
  const tooMany = `more than ${MAX_CANONS_LIMIT.toLocaleString('en-US')} canons per turret process`;
  c.turrets.forEach((t, i) => {
    if (!t.stages) return;
    const share = peakOf(t.stages, t.start_target ?? 0) / t.replicas;
    if (share > MAX_CANONS_LIMIT)
      ctx.addIssue({
        code: 'custom',
        message: `turret "${t.name}": its stages reach ${fmtCanons(share)} canons per replica, ${tooMany} (lower the targets or raise replicas)`,
        path: ['turrets', i, 'stages'],
      });
  });
  const pool = c.turrets.filter((t) => !t.stages);
  if (!c.stages || pool.length === 0) return;
  const weightOf = (t: (typeof pool)[number]) => t.weight ?? t.canons;
  const total = pool.reduce((a, t) => a + weightOf(t) * t.replicas, 0);
  const peak = peakOf(c.stages, c.start_target);
  const worst = pool.reduce((a, t) => (weightOf(t) > weightOf(a) ? t : a));
  const share = (peak * weightOf(worst)) / total;
  if (share > MAX_CANONS_LIMIT)
    ctx.addIssue({
      code: 'custom',
      message: `the stages reach ${fmtCanons(peak)} canons: turret "${worst.name}" would run ${fmtCanons(share)}, ${tooMany} (lower the targets, or add turrets or replicas)`,
      path: ['stages'],
    });
}

export const projectConfigSchema = z
  .object({
    // Defaults to the stages' total when stages are set, else 30.
    run_time: z.number().finite().positive().optional(),
    results_ts_interval: z.number().finite().positive().default(10),
    progress_bar: z.boolean().default(true),
    console_logging: z.boolean().default(false),
    testing: z.boolean().default(false),
    publish_port: port.default(5000),
    rc_port: port.default(5001),
    hq_address: z.string().min(1).default('127.0.0.1'),
    // Port (or full ZeroMQ endpoint) of the optional observer PUB socket; off when absent.
    external_publisher: z.union([port, z.string().min(1)]).optional(),
    min_turrets: z.number().int().nonnegative().default(1),
    turrets: z.array(turretEntrySchema).default([]),
    turrets_requirements: z.array(z.string()).default([]),
    extra_turret_config: z.record(z.string(), z.unknown()).default({}),
    results_database: z
      .object({
        db_uri: z.string().optional(),
        params: z.record(z.string(), z.unknown()).default({}),
        insert_limit: z.number().int().positive().default(10000),
      })
      .default({ params: {}, insert_limit: 10000 }),
    // oct additions
    turrets_wait_timeout: seconds.default(60),
    stop_grace: seconds.default(10),
    // How long the end of a run waits for a store that is away before leaving a recovery file.
    drain_timeout: seconds.default(120),
    turret_silence_timeout: seconds.default(10),
    max_message_bytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
    http_port: port.default(8080),
    transaction_context: z.record(z.string(), z.unknown()).default({}),
    thresholds: thresholdsSchema.default({}),
    // CURVE (docs/protocol.md#curve): the keys directory (relative to the project), or the explicit
    // opt-out for turrets that cannot do CURVE (the original Python turret).
    keys_dir: z.string().min(1).optional(),
    allow_plaintext: z.boolean().default(false),
    http: httpConfigSchema,
    // Test data split across canons (protocol/data-file.ts, hq/data-split.ts).
    data: z
      .object({ file: z.string().min(1), policy: z.enum(['unique', 'round-robin', 'random']).default('unique') })
      .strict()
      .optional(),
    // Which results are also stored row by row (aggregates always are): docs/statistics.md.
    /** The run this one is compared with (oct run --baseline): a results folder, or a run id or name in the database. */
    baseline: z.string().min(1).optional(),
    results_storage: z.enum(RESULTS_STORAGE as [ResultsStorage, ...ResultsStorage[]]).default('all'),
    // Workload (docs/workload.md).
    model: z.enum(['closed', 'open']).optional(),
    rate: z.number().finite().positive().optional(),
    stages: stagesSchema.optional(),
    start_target: z.number().finite().nonnegative().default(0),
    pacing: seconds.default(0),
    validity: z
      .object({
        max_dropped_ratio: z.number().finite().min(0).max(1).default(0.01),
        max_schedule_lag_ms: z.number().finite().positive().default(100),
        max_loop_delay_ms: z.number().finite().positive().default(200),
        max_bad_seconds_ratio: z.number().finite().min(0).max(1).default(0.05),
      })
      .strict()
      .default(VALIDITY_DEFAULTS),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.turrets.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', message: `duplicate turret name "${t.name}"`, path: ['turrets', i, 'name'] });
      seen.add(t.name);
    });
    if (c.allow_plaintext && c.keys_dir !== undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'keys_dir turns CURVE on and allow_plaintext turns it off: give one of them',
        path: ['allow_plaintext'],
      });
    if (c.rate !== undefined && c.stages !== undefined)
      ctx.addIssue({ code: 'custom', message: '"rate" is a constant rate for the whole run_time: give either "rate" or "stages", not both', path: ['rate'] });
    if (c.rate !== undefined && c.model === 'closed')
      ctx.addIssue({
        code: 'custom',
        message: '"rate" (iterations per second) needs the open model; remove "model": "closed" or use "stages" of canons',
        path: ['rate'],
      });
    const model = c.model ?? (c.rate !== undefined ? 'open' : 'closed');
    if (model === 'closed') closedSharesWithinLimit(c, ctx);
    if (model === 'open' && c.stages === undefined && c.rate === undefined && !c.turrets.some((t) => t.stages)) {
      ctx.addIssue({ code: 'custom', message: 'the open model needs "rate" (iterations/s) or "stages" of {duration, target: iterations/s}', path: ['stages'] });
    }
  })
  .transform((c) => {
    const model: 'open' | 'closed' = c.model ?? (c.rate !== undefined ? 'open' : 'closed');
    const planned = c.stages ?? (c.rate !== undefined ? [{ duration: c.run_time ?? 30, target: c.rate }] : undefined);
    const start_target = c.rate !== undefined && c.stages === undefined ? c.rate : c.start_target;
    const stagesTotal = planned ? planned.reduce((a, s) => a + s.duration, 0) : undefined;
    const entryTotals = c.turrets.map((t) => (t.stages ? t.stages.reduce((a, s) => a + s.duration, 0) : 0));
    const longest = Math.max(stagesTotal ?? 0, ...entryTotals);
    // `rate` becomes its one stage, so the stored config parses again to the same plan.
    return { ...c, model, rate: undefined, stages: planned, start_target, run_time: c.run_time ?? (longest > 0 ? longest : 30) };
  });

export type ProjectConfig = z.infer<typeof projectConfigSchema>;
export type TurretEntry = ProjectConfig['turrets'][number];

export const turretConfigSchema = z
  .object({
    name: z.string().min(1),
    // Each canon is a Transaction object, its timers and sockets: past the limit a turret exhausts
    // its memory (canons: 1e12 stopped a turret reading orders), so it fails here instead.
    canons: canonCount.optional(),
    cannons: canonCount.optional(),
    rampup: seconds.default(0),
    script: z.string().min(1),
    hq_address: z.string().min(1),
    hq_publisher: port,
    hq_rc: port,
    // oct additions: how results are batched on the wire.
    batch_max_results: z.number().int().positive().default(2000),
    batch_max_ms: z.number().int().positive().default(100),
    // The HQ marks an oct turret lost after 2.5 heartbeats of silence: 2.5 s by default.
    heartbeat_ms: z.number().int().min(100).max(60_000).default(1000),
    // This machine's ceiling on the open model's canon pool, whatever the HQ's plan says.
    max_canons: maxCanons.optional(),
    // CURVE: a directory holding hq.pub, turret.key (and turret.pub), relative to this config.
    keys_dir: z.string().min(1).optional(),
    // ctx.http's settings (the project's `http`); TLS file paths relative to this config's folder.
    http: httpConfigSchema,
  })
  .passthrough()
  .transform((t, ctx) => {
    const canons = t.canons ?? t.cannons;
    if (canons === undefined) {
      ctx.addIssue({ code: 'custom', message: 'required: "canons" (or "cannons")', path: ['canons'] });
      return z.NEVER;
    }
    const { cannons: _c, ...rest } = t;
    return { ...rest, canons };
  });

export type TurretConfig = z.infer<typeof turretConfigSchema>;

/** Edit distance, for "did you mean": small strings only. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Keys oct never reads and never refuses: notes (`_comment`) and settings for other tools (`x-ci`). */
export function isExtensionKey(key: string): boolean {
  return key.startsWith('_') || key.startsWith('x-');
}

function unknownIn(obj: unknown, known: string[], where: (k: string) => string): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [];
  const out: string[] = [];
  for (const key of Object.keys(obj)) {
    if (known.includes(key) || isExtensionKey(key)) continue;
    const near = known.filter((k) => distance(k, key) <= 2).sort((a, b) => distance(a, key) - distance(b, key))[0];
    out.push(`${where(key)}: unknown key${near ? ` (did you mean "${near}"?)` : ''}`);
  }
  return out;
}

const PROJECT_KEYS = Object.keys(projectConfigSchema.in.shape);
const TURRET_ENTRY_KEYS = Object.keys(turretEntrySchema.in.shape);

/**
 * Keys a project config has that oct does not read: a typo (`run_tme`, a turret's `canon`) would
 * otherwise be silently ignored, so loading a project refuses them. Every key of the original's
 * documented config is known; anything else meant for another tool starts with `x-` or `_`.
 */
export function unknownProjectKeys(value: unknown): string[] {
  const out = unknownIn(value, PROJECT_KEYS, (k) => k);
  const turrets = (value as { turrets?: unknown } | null)?.turrets;
  if (Array.isArray(turrets)) turrets.forEach((t, i) => out.push(...unknownIn(t, TURRET_ENTRY_KEYS, (k) => `turrets[${i}].${k}`)));
  return out;
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : '(root)';
    return `${key}: ${issue.message}`;
  });
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, source: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error));
  return result.data;
}

/** Parses JSON text; a syntax error names the file and the position. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(source, [`not valid JSON: ${(err as Error).message}`]);
  }
}

export function parseProjectConfig(value: unknown, source = 'config.json'): ProjectConfig {
  return parseWith(projectConfigSchema, value, source);
}

export function parseTurretConfig(value: unknown, source = 'turret config'): TurretConfig {
  return parseWith(turretConfigSchema, value, source);
}
