// The schema, as ordered migrations. Both backends run them; a version table records which ran.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    state       text NOT NULL,
    config      jsonb,
    hq_id       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    ended_at    timestamptz,
    error       text,
    summary     jsonb
  );
  -- No primary key on results: a bigserial costs ~35% of COPY throughput (measured here with pg-copy-streams); rows of a
  -- run arrive in elapsed order, so a BRIN index finds a run cheaply.
  CREATE TABLE results (
    run_id          bigint NOT NULL,
    turret_uuid     text,
    turret_name     text,
    elapsed         double precision NOT NULL,
    epoch           double precision NOT NULL,
    scriptrun_time  double precision NOT NULL,
    error           text,
    custom_timers   jsonb
  );
  CREATE INDEX results_run_brin ON results USING brin (run_id);
  CREATE TABLE turrets (
    run_id      bigint NOT NULL,
    uuid        text NOT NULL,
    name        text NOT NULL,
    canons      integer,
    rampup      double precision,
    script      text,
    status      text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (run_id, uuid)
  );
  CREATE TABLE turret_status_changes (
    run_id      bigint NOT NULL,
    uuid        text NOT NULL,
    name        text NOT NULL,
    status      text NOT NULL,
    raw_status  text NOT NULL,
    reason      text,
    at          timestamptz NOT NULL
  );
  CREATE INDEX turret_status_changes_run ON turret_status_changes (run_id, at);
  CREATE TABLE artifacts (
    run_id      bigint NOT NULL,
    name        text NOT NULL,
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, name)
  );
  `,
  // Per-second histogram deltas (store/aggregate-writer.ts) and error counts, appended and never
  // merged on write: a second may arrive in several pieces. seq keeps the order rows were written
  // in, which a sort by second alone would lose; reads sort by (second, seq) themselves and fetch
  // ranges of seconds, so the index leaves seq out. Buckets are varints (store/histogram-bytes.ts).
  `
  CREATE TABLE aggregates (
    run_id       bigint NOT NULL,
    second       integer NOT NULL,
    turret_uuid  text,
    turret_name  text,
    series       text NOT NULL,
    n            bigint NOT NULL,
    errors       bigint NOT NULL,
    vmin         float8 NOT NULL,
    vmax         float8 NOT NULL,
    vmean        float8 NOT NULL,
    m2           float8 NOT NULL,
    buckets      bytea NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY
  );
  CREATE INDEX aggregates_run_second ON aggregates (run_id, second);
  CREATE TABLE error_counts (
    run_id       bigint NOT NULL,
    second       integer NOT NULL,
    turret_uuid  text,
    turret_name  text,
    message      text NOT NULL,
    count        bigint NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY
  );
  CREATE INDEX error_counts_run_second ON error_counts (run_id, second);
  `,
  // Which numbered messages (turret, seq) of a run are stored, written in the same transaction as
  // what they carried: a restarted HQ reads it to tell a turret's re-sent messages from new ones.
  `
  CREATE TABLE delivered (
    run_id       bigint NOT NULL,
    turret_uuid  text NOT NULL,
    seq          bigint NOT NULL
  );
  CREATE INDEX delivered_run ON delivered (run_id);
  `,
  // Actions taken on a running test over HTTP (stop, a new target): who, when, what; the report
  // lists them.
  `
  CREATE TABLE control_actions (
    run_id   bigint NOT NULL,
    at       timestamptz NOT NULL,
    elapsed  float8 NOT NULL,
    action   text NOT NULL,
    by_whom  text NOT NULL,
    origin   text NOT NULL,
    detail   jsonb NOT NULL,
    seq      bigint GENERATED ALWAYS AS IDENTITY
  );
  CREATE INDEX control_actions_run ON control_actions (run_id, seq);
  `,
  // Requests' counters (protocol/series-names.ts: responses per status, bytes): null for every
  // other series, so rows of runs before them read back unchanged.
  `ALTER TABLE aggregates ADD COLUMN counters jsonb;`,
];
