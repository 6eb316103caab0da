// The DuckDB race: the b2bseg suite (bench/suite/b2bseg_suite.seg) as hand-written SQL over the
// same generated CSVs, timed in DuckDB with the same thread count, and checked against b2bseg's
// member sets, segment by segment.
//
//   node race.mjs --data DIR --b2bseg FILE.json [--threads N] [--runs R] [--as-of TS]
//   node race.mjs --data DIR --b2bseg-out EVAL_OUT_DIR ...   (b2bseg eval's NAME.csv files)
//   node race.mjs --print-sql [--as-of TS]                     (the SQL of every segment)
//   node race.mjs --load-only --data DIR [--threads N] [--json FILE]   (DuckDB's CSV load only, timed)
//   ... --forms   race bench/suite/b2bseg_forms.seg (sequences and ranks, SPEC 3.5) instead of
//                 the suite: self-joins for sequences, row_number() windows for top
//   ... --activate OUT_DIR   also time DuckDB's export of the members with bench_activate's
//                            fields: COPY (SELECT ...) TO 'OUT_DIR/NAME.csv' per segment
//
// FILE.json is written by `tool_suite --json` (member keys and median times per segment);
// EVAL_OUT_DIR by `b2bseg eval --out` (member keys only: no b2bseg times in the table then).
//
// Loading: one CREATE TABLE ... AS SELECT FROM read_csv(...) per entity, with explicit column
// types from schema.json (string VARCHAR, int BIGINT, float DOUBLE, bool BOOLEAN, timestamp
// TIMESTAMP, string[] VARCHAR split on '|' into VARCHAR[]); timed as DuckDB's load.
// Evaluation: each segment's query returns the member keys. Timed: `connection.run(sql)`, which
// executes the query and materializes its result in DuckDB's own chunks (as b2bseg materializes
// a Roaring bitmap), median of R runs after one warm-up. The keys are converted to JS strings
// afterwards, untimed, for the check.
//
// Semantics (SPEC 3.2) in SQL: a comparison on NULL is NULL, which WHERE treats as false, so
// positive predicates need nothing; `!=` and `not in` are false on NULL in both engines; b2bseg's
// `not` is a plain complement, so every `not P` is written NOT coalesce(P, false); `rel.none`
// and `rel.all` are anti-joins (ANTI JOIN, or NOT IN over a key set without NULLs: DuckDB plans
// both much faster here than a correlated NOT EXISTS, 3x on q13); a to-one path through an
// unset link never matches a join, so it is false; count() of nothing is 0 and avg/min/max of
// nothing NULL (a comparison with NULL is false, as in b2bseg); sum() of nothing is NULL in SQL
// and 0 in b2bseg, which only matters for thresholds <= 0 (none here).
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// --- arguments ---------------------------------------------------------------------------------
function parseArgs(argv) {
  const a = { data: null, b2bseg: null, b2bsegOut: null, threads: 2, runs: 5,
              asOf: '2026-11-22T00:00:00Z', printSql: false, only: null, json: null,
              activate: null, forms: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) die(`missing value after ${k}`, 2);
      return argv[++i];
    };
    if (k === '--data') a.data = v();
    else if (k === '--b2bseg') a.b2bseg = v();
    else if (k === '--b2bseg-out') a.b2bsegOut = v();
    else if (k === '--threads') a.threads = posInt(k, v());
    else if (k === '--runs') a.runs = posInt(k, v());
    else if (k === '--as-of') a.asOf = v();
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--json') a.json = v();
    else if (k === '--activate') a.activate = v();
    else if (k === '--print-sql') a.printSql = true;
    else if (k === '--load-only') a.loadOnly = true;
    else if (k === '--forms') a.forms = true;
    else if (k === '-h' || k === '--help') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]
        .split('\n').map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else die(`unknown option ${k}`, 2);
  }
  if (a.loadOnly && !a.data) die('--load-only needs --data', 2);
  if (!a.printSql && !a.loadOnly && (!a.data || (!a.b2bseg && !a.b2bsegOut)))
    die('--data and one of --b2bseg or --b2bseg-out are required (see --help)', 2);
  return a;
}
function posInt(k, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) die(`${k}: expected a positive integer, got '${s}'`, 2);
  return n;
}
function die(msg, code = 1) {
  console.error(`race: ${msg}`);
  process.exit(code);
}

// --- the SQL of the suite ------------------------------------------------------------------------
// `N` is the as-of instant as a TIMESTAMP literal; `last(col, d)` is `col within last d days`.
// Every query selects the member keys as column `k`. `ref(name)` is another segment's key set.
function suiteSql(asOf) {
  const N = `TIMESTAMP '${asOf}'`;
  const last = (col, d) => `(${col} BETWEEN ${N} - INTERVAL ${d} DAY AND ${N})`;
  const S = {};
  const ref = (name) => {
    if (!S[name]) throw new Error(`segment ${name} used before its definition`);
    return `(SELECT k FROM (${S[name]}))`;
  };

  S.q01_abm_target_accounts = `
    SELECT a.account_id AS k FROM account a
    WHERE a.industry IN ('Software', 'Financial Services')
      AND a.employees >= 1000
      AND a.tier IN ('Enterprise', 'Strategic')`;

  S.q02_open_pipeline_accounts = `
    SELECT a.account_id AS k FROM account a
    WHERE a.account_id IN (SELECT o.account_id FROM opportunity o
                           WHERE NOT coalesce(o.is_closed, false) AND o.amount >= 50000)`;

  S.q03_target_account_executives = `
    SELECT p.person_id AS k FROM person p
    WHERE p.account_id IN ${ref('q01_abm_target_accounts')}
      AND p.seniority IN ('C-Level', 'VP', 'Director')
      AND NOT coalesce(p.email_opt_out, false)
      AND p.email IS NOT NULL`;

  S.q04_recent_webinar_attendees = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT e.person_id FROM event e
                          WHERE e.type = 'webinar.attended' AND ${last('e."timestamp"', 90)})`;

  S.q05_engaged_buying_committee = `
    SELECT p.person_id AS k FROM person p
    WHERE p.account_id IN ${ref('q02_open_pipeline_accounts')}
      AND p.seniority IN ('VP', 'C-Level', 'Director')
      AND p.person_id IN (SELECT e.person_id FROM event e WHERE ${last('e."timestamp"', 30)}
                          GROUP BY e.person_id HAVING count(*) BETWEEN 5 AND 500)`;

  S.q06_pricing_page_intent = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT e.person_id FROM event e
                          WHERE e.type = 'web.pageview' AND e.url LIKE '%/pricing%'
                            AND ${last('e."timestamp"', 30)}
                          GROUP BY e.person_id HAVING count(*) >= 3)`;

  S.q07_demo_request_no_open_opp = `
    SELECT p.person_id AS k FROM person p
    ANTI JOIN (SELECT o.account_id FROM opportunity o WHERE NOT coalesce(o.is_closed, false)) open
      ON open.account_id = p.account_id
    WHERE p.person_id IN (SELECT e.person_id FROM event e
                          WHERE e.type = 'demo.requested' AND ${last('e."timestamp"', 60)})
      AND p.account_id IS NOT NULL`;

  S.q08_deal_decision_makers = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT r.person_id FROM opportunity_person r
                          LEFT JOIN opportunity o ON o.opportunity_id = r.opportunity_id
                          WHERE r.role IN ('Economic Buyer', 'Decision Maker')
                            AND NOT coalesce(o.is_closed, false)
                            AND o.amount > 100000)`;

  S.q09_recent_win_champions = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT r.person_id FROM opportunity_person r
                          JOIN opportunity o ON o.opportunity_id = r.opportunity_id
                          WHERE r.is_primary AND o.is_won AND ${last('o.close_date', 365)})`;

  S.q10_overdue_late_stage_contacts = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT r.person_id FROM opportunity_person r
                          JOIN opportunity o ON o.opportunity_id = r.opportunity_id
                          WHERE o.stage IN ('Proposal', 'Negotiation') AND o.close_date < ${N})`;

  S.q11_high_value_customers = `
    SELECT a.account_id AS k FROM account a
    WHERE a.type = 'Customer'
      AND a.account_id IN (SELECT o.account_id FROM opportunity o
                           WHERE o.is_won AND ${last('o.close_date', 730)}
                           GROUP BY o.account_id HAVING sum(o.amount) >= 250000)`;

  S.q12_churn_risk_customers = `
    SELECT a.account_id AS k FROM account a
    WHERE a.type = 'Customer'
      AND (coalesce(list_contains(a.tags, 'at-risk'), false)
           OR a.account_id IN (SELECT o.account_id FROM opportunity o
                               WHERE o.type = 'Renewal' AND o.stage = 'Closed Lost'))`;

  S.q13_dormant_contacts = `
    SELECT p.person_id AS k FROM person p
    ANTI JOIN (SELECT e.person_id FROM event e WHERE ${last('e."timestamp"', 180)}) recent
      ON recent.person_id = p.person_id
    WHERE p.email IS NOT NULL
      AND NOT coalesce(p.email_opt_out, false)`;

  S.q14_uncontacted_hot_mqls = `
    SELECT p.person_id AS k FROM person p
    ANTI JOIN (SELECT m.person_id FROM campaign_member m WHERE ${last('m.joined_at', 30)}) touched
      ON touched.person_id = p.person_id
    WHERE p.lead_status = 'MQL'
      AND p.lead_score >= 60`;

  S.q15_event_responders = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT m.person_id FROM campaign_member m
                          JOIN campaign c ON c.campaign_id = m.campaign_id
                          WHERE m.has_responded
                            AND c.type IN ('Trade Show', 'Conference', 'Field Event')
                            AND ${last('c.start_date', 120)})`;

  S.q16_engaged_newsletter_readers = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT lm.person_id FROM marketing_list_member lm
                          JOIN marketing_list l ON l.list_id = lm.list_id
                          WHERE l.name = 'Newsletter Subscribers')
      AND p.person_id IN (SELECT e.person_id FROM event e
                          WHERE e.type = 'email.open' AND ${last('e."timestamp"', 90)}
                          GROUP BY e.person_id HAVING count(*) >= 3)`;

  S.q17_emea_displacement_tech = `
    SELECT p.person_id AS k FROM person p
    JOIN account a ON a.account_id = p.account_id
    WHERE list_has_any(a.tags, ['competitor-displace', 'abm'])
      AND a.region = 'EMEA'
      AND p.department IN ('IT', 'Engineering')`;

  S.q18_customer_family_whitespace = `
    SELECT a.account_id AS k FROM account a
    JOIN account parent ON parent.account_id = a.parent_account_id
    WHERE parent.type = 'Customer' AND a.type <> 'Customer'`;

  S.q19_account_engagement_surge = `
    SELECT a.account_id AS k FROM account a
    WHERE a.account_id IN (
      SELECT p.account_id FROM person p
      WHERE p.seniority IN ('C-Level', 'VP', 'Director')
        AND p.person_id IN (SELECT e.person_id FROM event e WHERE ${last('e."timestamp"', 30)})
      GROUP BY p.account_id HAVING count(*) >= 3)`;

  S.q20_multithreaded_open_deals = `
    SELECT a.account_id AS k FROM account a
    WHERE a.account_id IN (
      SELECT o.account_id FROM opportunity o
      WHERE NOT coalesce(o.is_closed, false)
        AND o.opportunity_id IN (SELECT r.opportunity_id FROM opportunity_person r
                                 GROUP BY r.opportunity_id HAVING count(*) >= 3))`;

  S.q21_buying_group_expansion = `
    SELECT p.person_id AS k FROM person p
    WHERE p.account_id IN (
        SELECT o.account_id FROM opportunity o
        WHERE NOT coalesce(o.is_closed, false)
          AND o.opportunity_id IN (SELECT r.opportunity_id FROM opportunity_person r
                                   JOIN person buyer ON buyer.person_id = r.person_id
                                   WHERE r.role = 'Economic Buyer' AND buyer.seniority = 'C-Level'))
      AND p.person_id NOT IN (SELECT r2.person_id FROM opportunity_person r2
                              WHERE r2.person_id IS NOT NULL)`;

  S.q22_overbudget_campaigns = `
    SELECT c.campaign_id AS k FROM campaign c
    WHERE c.status = 'Completed' AND c.actual_cost > c.budgeted_cost`;

  S.q23_overbudget_campaign_responders = `
    SELECT p.person_id AS k FROM person p
    WHERE p.person_id IN (SELECT m.person_id FROM campaign_member m
                          WHERE m.has_responded
                            AND m.campaign_id IN ${ref('q22_overbudget_campaigns')})`;

  S.q24_loyal_big_ticket_customers = `
    SELECT a.account_id AS k FROM account a
    WHERE a.account_id IN (SELECT o.account_id FROM opportunity o WHERE o.is_won
                           GROUP BY o.account_id
                           HAVING min(o.close_date) < ${N} - INTERVAL 365 DAY
                              AND avg(o.amount) > 100000)`;

  S.q25_security_persona_intl = `
    SELECT p.person_id AS k FROM person p
    WHERE (p.job_title ILIKE '%security%' OR p.job_title ILIKE 'ciso')
      AND p.country NOT IN ('United States', 'Canada')
      AND p.lead_status <> 'Disqualified'`;

  S.q26_email_only_midmarket = `
    SELECT p.person_id AS k FROM person p
    JOIN account a ON a.account_id = p.account_id
    WHERE p.phone IS NULL AND p.email IS NOT NULL
      AND a.employees BETWEEN 100 AND 999`;

  S.q27_committed_pipeline_accounts = `
    SELECT a.account_id AS k FROM account a
    ANTI JOIN (SELECT o.account_id FROM opportunity o
               WHERE NOT (coalesce(o.is_closed, false) OR coalesce(o.probability >= 75, false))) uncommitted
      ON uncommitted.account_id = a.account_id
    WHERE a.account_id IN (SELECT o.account_id FROM opportunity o WHERE NOT coalesce(o.is_closed, false))`;

  S.q28_lookalike_seed = `
    SELECT p.person_id AS k FROM person p
    WHERE (p.person_id IN ${ref('q03_target_account_executives')}
           OR p.person_id IN ${ref('q05_engaged_buying_committee')}
           OR p.person_id IN ${ref('q09_recent_win_champions')})
      AND p.person_id NOT IN ${ref('q13_dormant_contacts')}`;

  S.q29_abm_targets_to_prospect = `
    SELECT a.account_id AS k FROM account a
    WHERE a.account_id IN ${ref('q01_abm_target_accounts')}
      AND a.account_id NOT IN ${ref('q02_open_pipeline_accounts')}
      AND a.account_id IN (SELECT p.account_id FROM person p
                           WHERE p.person_id IN ${ref('q04_recent_webinar_attendees')})`;

  return S;
}

// The SQL twins of bench/suite/b2bseg_forms.seg. A sequence is a chain of self-joins on the
// person, each step strictly later than the one before (a NULL time joins nothing), the last
// within D of the first; a top is row_number() over the group, ordered by the keys NULLS LAST
// and then by the key (DuckDB compares VARCHAR by bytes, as b2bseg does).
function formsSql() {
  const S = {};
  S.f01_webinar_journey = `
    SELECT DISTINCT e1.person_id AS k FROM event e1
    JOIN event e2 ON e2.person_id = e1.person_id AND e2.type = 'webinar.attended'
                 AND e2.timestamp > e1.timestamp
    JOIN event e3 ON e3.person_id = e1.person_id AND e3.type = 'demo.requested'
                 AND e3.timestamp > e2.timestamp
                 AND epoch_us(e3.timestamp) - epoch_us(e1.timestamp) <= 14 * 86400000000
    WHERE e1.type = 'webinar.registered'`;
  S.f02_click_then_form = `
    SELECT DISTINCT e1.person_id AS k FROM event e1
    JOIN event e2 ON e2.person_id = e1.person_id AND e2.type = 'form.submit'
                 AND e2.timestamp > e1.timestamp
                 AND epoch_us(e2.timestamp) - epoch_us(e1.timestamp) <= 7 * 86400000000
    WHERE e1.type = 'email.click'`;
  S.f03_top_deals_per_account = `
    SELECT k FROM (
      SELECT o.opportunity_id AS k,
             row_number() OVER (PARTITION BY o.account_id
                                ORDER BY o.amount DESC NULLS LAST, o.opportunity_id) AS rn
      FROM opportunity o WHERE o.account_id IS NOT NULL)
    WHERE rn <= 3`;
  S.f04_top_open_deals = `
    SELECT k FROM (
      SELECT o.opportunity_id AS k,
             row_number() OVER (PARTITION BY o.account_id
                                ORDER BY o.amount DESC NULLS LAST, o.opportunity_id) AS rn
      FROM opportunity o
      WHERE o.account_id IS NOT NULL AND NOT coalesce(o.is_closed, false))
    WHERE rn <= 3`;
  S.f05_top_scored_leads = `
    SELECT k FROM (
      SELECT p.person_id AS k,
             row_number() OVER (ORDER BY p.lead_score DESC NULLS LAST,
                                         p.created_at DESC NULLS LAST, p.person_id) AS rn
      FROM person p)
    WHERE rn <= 100`;
  return S;
}

// --- helpers -----------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6;
const quoteIdent = (s) => `"${s.replace(/"/g, '""')}"`;
const quoteStr = (s) => `'${s.replace(/'/g, "''")}'`;
const peakRssMiB = () => {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
};

/// The as-of instant as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC (offsets applied), for a TIMESTAMP literal.
function asOfLiteral(s) {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m) die(`--as-of: not an ISO 8601 timestamp: ${s}`, 2);
  const [, date, hh = '00', mm = '00', ss = '00', frac = '', off = 'Z'] = m;
  let ms = Date.parse(`${date}T${hh}:${mm}:${ss}Z`);
  if (Number.isNaN(ms)) die(`--as-of: not a valid date: ${s}`, 2);
  if (off !== 'Z') {
    const o = /([+-])(\d{2}):?(\d{2})/.exec(off);
    ms -= (o[1] === '-' ? -1 : 1) * (Number(o[2]) * 60 + Number(o[3])) * 60000;
  }
  const d = new Date(ms).toISOString();  // YYYY-MM-DDTHH:MM:SS.000Z
  return `${d.slice(0, 10)} ${d.slice(11, 19)}.${frac.padEnd(6, '0')}`;
}

/// The header line's column names of a CSV file (RFC 4180 quoting, optional BOM).
function csvHeader(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 16);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  let text = buf.subarray(0, n).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const cols = [];
  let cur = '', q = false, i = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cur += '"'; i++; }
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { cols.push(cur); cur = ''; }
    else if (c === '\n' || c === '\r') break;
    else cur += c;
  }
  cols.push(cur);
  return cols;
}

const duckType = { string: 'VARCHAR', int: 'BIGINT', float: 'DOUBLE', bool: 'BOOLEAN',
                   timestamp: 'TIMESTAMP', 'string[]': 'VARCHAR' };

/// Loads every entity of schema.json into a table of the same name whose columns carry the
/// schema's names (key and link columns keep their CSV names). Returns the load time in ms.
async function loadDataset(con, dir) {
  const schema = JSON.parse(fs.readFileSync(path.join(dir, 'schema.json'), 'utf8'));
  const t0 = now();
  const perEntity = [];
  for (const [name, e] of Object.entries(schema.entities)) {
    const file = path.join(dir, e.file);
    const header = csvHeader(file);
    // CSV column -> [output name, DuckDB type, is list]
    const want = new Map();
    if (e.key) want.set(e.key, [e.key, 'VARCHAR', false]);
    for (const l of Object.values(e.links || {})) want.set(l.column, [l.column, 'VARCHAR', false]);
    for (const [attr, spec] of Object.entries(e.attributes || {})) {
      const type = typeof spec === 'string' ? spec : spec.type;
      const column = typeof spec === 'string' ? attr : (spec.column ?? attr);
      want.set(column, [attr, duckType[type], type === 'string[]']);
    }
    for (const c of want.keys()) if (!header.includes(c)) die(`${file}: column '${c}' missing from the header`);
    const columns = header.map((c) => `${quoteStr(c)}: ${quoteStr(want.has(c) ? want.get(c)[1] : 'VARCHAR')}`);
    const select = [...want.entries()].map(([c, [out, , list]]) =>
      list ? `string_split(${quoteIdent(c)}, '|') AS ${quoteIdent(out)}` : `${quoteIdent(c)} AS ${quoteIdent(out)}`);
    const t1 = now();
    await con.run(`CREATE OR REPLACE TABLE ${quoteIdent(name)} AS SELECT ${select.join(', ')}
      FROM read_csv(${quoteStr(file)}, header = true, auto_detect = false, delim = ',',
                    quote = '"', escape = '"', columns = {${columns.join(', ')}})`);
    const rows = (await (await con.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(name)}`)).getRowsJS())[0][0];
    perEntity.push({ name, rows: Number(rows), ms: now() - t1 });
  }
  return { ms: now() - t0, perEntity };
}

/// b2bseg's member keys and times, from tool_suite --json or from a b2bseg eval --out folder.
function readB2bseg(a) {
  const out = new Map();
  if (a.b2bseg) {
    const j = JSON.parse(fs.readFileSync(a.b2bseg, 'utf8'));
    for (const s of j.segments) out.set(s.name, { keys: s.members, ms: s.median_ms, entity: s.entity });
    return { segments: out, wholeMs: j.whole_ms, sumSeparateMs: j.sum_separate_ms, threads: j.threads,
             asOf: j.as_of, people: j.people, loadMs: j.load_ms };
  }
  for (const f of fs.readdirSync(a.b2bsegOut)) {
    if (!f.endsWith('.csv')) continue;
    const lines = fs.readFileSync(path.join(a.b2bsegOut, f), 'utf8').split('\n');
    lines.shift();  // header
    const keys = lines.filter((l) => l.length).map((l) => (l.startsWith('"') ? l.slice(1, -1).replace(/""/g, '"') : l));
    out.set(f.slice(0, -4), { keys, ms: null });
  }
  return { segments: out, wholeMs: null, sumSeparateMs: null };
}

/// Compares two key lists as sets; returns null when equal, else a description.
function diffSets(b2, dk) {
  const A = new Set(b2), B = new Set(dk);
  if (A.size !== b2.length) return `b2bseg lists ${b2.length - A.size} duplicate keys`;
  if (B.size !== dk.length) return `DuckDB lists ${dk.length - B.size} duplicate keys`;
  const onlyA = b2.filter((k) => !B.has(k)).sort();
  const onlyB = dk.filter((k) => !A.has(k)).sort();
  if (!onlyA.length && !onlyB.length) return null;
  return `b2bseg ${b2.length} members, DuckDB ${dk.length}; ` +
    `only in b2bseg (${onlyA.length}): ${onlyA.slice(0, 10).join(' ') || '-'}; ` +
    `only in DuckDB (${onlyB.length}): ${onlyB.slice(0, 10).join(' ') || '-'}`;
}

// --- main --------------------------------------------------------------------------------------
const a = parseArgs(process.argv.slice(2));
const asOf = asOfLiteral(a.asOf);
const S = a.forms ? formsSql() : suiteSql(asOf);
if (a.printSql) {
  for (const [name, sql] of Object.entries(S)) console.log(`-- ${name}\n${sql.trim()};\n`);
  process.exit(0);
}

if (a.loadOnly) {
  // Only DuckDB's CSV load, timed (bench/run_snapshot.sh compares it with opening a snapshot).
  const inst = await DuckDBInstance.create(':memory:', { threads: String(a.threads) });
  const c = await inst.connect();
  await c.run(`SET threads = ${a.threads}`);
  const l = await loadDataset(c, a.data);
  console.log(`DuckDB CSV load: ${l.ms.toFixed(0)} ms`);
  if (a.json) fs.writeFileSync(a.json, JSON.stringify({ threads: a.threads, load_ms: l.ms }) + '\n');
  process.exit(0);
}
const b2 = readB2bseg(a);
if (b2.asOf && asOfLiteral(b2.asOf) !== asOf)
  die(`b2bseg results are as of ${b2.asOf}, the race is as of ${a.asOf}: rerun one of them`);
if (b2.threads && b2.threads !== a.threads)
  console.warn(`race: warning: b2bseg ran with ${b2.threads} threads, DuckDB with ${a.threads}`);
const names = Object.keys(S).filter((n) => !a.only || a.only.includes(n));
for (const n of names) if (!b2.segments.has(n)) die(`b2bseg results have no segment ${n}`);
for (const n of b2.segments.keys()) if (!S[n] && !a.only) die(`b2bseg segment ${n} has no SQL in race.mjs`);

const instance = await DuckDBInstance.create(':memory:', { threads: String(a.threads) });
const con = await instance.connect();
await con.run(`SET threads = ${a.threads}`);
const version = (await (await con.runAndReadAll('SELECT version()')).getRowsJS())[0][0];
console.log(`DuckDB ${version} (@duckdb/node-api), ${a.threads} thread(s), median of ${a.runs} runs after 1 warm-up; as of ${asOf} UTC`);
const load = await loadDataset(con, a.data);
console.log(`DuckDB CSV load: ${(load.ms / 1000).toFixed(2)} s (${load.perEntity.map((e) => `${e.name} ${e.rows}`).join(', ')})` +
  (b2.loadMs ? `; b2bseg load: ${(b2.loadMs / 1000).toFixed(2)} s` : ''));

const results = [];
const failures = [];
for (const name of names) {
  const times = [];
  let res = null;
  for (let r = 0; r <= a.runs; r++) {
    const t0 = now();
    res = await con.run(S[name]);
    const ms = now() - t0;
    if (r) times.push(ms);
  }
  const keys = (await res.getColumnsJS())[0] ?? [];
  const mine = b2.segments.get(name);
  const diff = diffSets(mine.keys, keys.map(String));
  if (diff) failures.push(`${name}: ${diff}`);
  results.push({ name, members: keys.length, duck: median(times), b2: mine.ms, same: !diff });
}

// --- the table ---------------------------------------------------------------------------------
const w = Math.max(7, ...names.map((n) => n.length));
const f3 = (x) => (x == null ? '-' : x.toFixed(3));
const ratio = (d, b) => (b ? `${(d / b).toFixed(1)}x` : '-');
console.log(`\n${'segment'.padEnd(w)}  ${'members'.padStart(9)}  ${'b2bseg ms'.padStart(10)}  ${'DuckDB ms'.padStart(10)}  ${'ratio'.padStart(8)}  same`);
for (const r of results)
  console.log(`${r.name.padEnd(w)}  ${String(r.members).padStart(9)}  ${f3(r.b2).padStart(10)}  ${f3(r.duck).padStart(10)}  ${ratio(r.duck, r.b2).padStart(8)}  ${r.same ? 'yes' : 'NO'}`);
const duckSum = results.reduce((s, r) => s + r.duck, 0);
const b2Sum = results.every((r) => r.b2 != null) ? results.reduce((s, r) => s + r.b2, 0) : null;
console.log('');
console.log(`DuckDB, sum of the per-segment medians:         ${f3(duckSum).padStart(11)} ms`);
if (b2Sum != null) console.log(`b2bseg, sum of the per-segment medians:         ${f3(b2Sum).padStart(11)} ms   DuckDB/b2bseg ${ratio(duckSum, b2Sum)}`);
if (b2.wholeMs != null && !a.only)
  console.log(`b2bseg, whole file evaluated together (median): ${f3(b2.wholeMs).padStart(11)} ms   DuckDB/b2bseg ${ratio(duckSum, b2.wholeMs)}`);
console.log(`node+DuckDB peak RSS (VmHWM): ${peakRssMiB().toFixed(0)} MiB`);

if (a.json) {
  fs.writeFileSync(a.json, JSON.stringify({ duckdb: version, threads: a.threads, runs: a.runs, as_of: asOf,
    load_ms: load.ms, sum_ms: duckSum, b2bseg_whole_ms: b2.wholeMs, b2bseg_sum_ms: b2Sum,
    segments: results.map(({ name, members, duck, b2: b, same }) => ({ name, members, duckdb_ms: duck, b2bseg_ms: b, same })) }, null, 1));
}

// --- activation: the members with bench_activate's fields, exported by COPY ---------------------
// Person segments: email, account name, events.count(); account segments: name, industry, the sum
// of open opportunities' amounts. One COPY per segment, timed together (median of the runs).
if (a.activate) {
  fs.mkdirSync(a.activate, { recursive: true });
  const copies = [];
  for (const name of names) {
    const entity = b2.segments.get(name).entity;
    const out = quoteStr(path.join(a.activate, `${name}.csv`));
    if (entity === 'person')
      copies.push(`COPY (WITH m AS (${S[name]})
        SELECT p.person_id, p.email, acc.name AS company,
               (SELECT count(*) FROM event e WHERE e.person_id = p.person_id) AS events
        FROM m JOIN person p ON p.person_id = m.k LEFT JOIN account acc ON acc.account_id = p.account_id
        ORDER BY p.person_id) TO ${out} (HEADER)`);
    else if (entity === 'account')
      copies.push(`COPY (WITH m AS (${S[name]})
        SELECT acc.account_id, acc.name, acc.industry,
               (SELECT sum(o.amount) FROM opportunity o
                WHERE o.account_id = acc.account_id AND NOT coalesce(o.is_closed, false)) AS open_pipeline
        FROM m JOIN account acc ON acc.account_id = m.k ORDER BY acc.account_id) TO ${out} (HEADER)`);
  }
  const times = [];
  for (let r = 0; r <= a.runs; r++) {
    const t0 = now();
    for (const sql of copies) await con.run(sql);
    if (r) times.push(now() - t0);
  }
  let rows = 0;
  for (const f of fs.readdirSync(a.activate))
    rows += fs.readFileSync(path.join(a.activate, f), 'utf8').split('\n').filter((l) => l).length - 1;
  console.log(`DuckDB export of ${copies.length} segments' members with 3 fields each (COPY ... TO csv): ` +
    `${f3(median(times))} ms median, ${rows} rows, ${(rows / median(times) * 1000 / 1e6).toFixed(2)}M rows/s ` +
    `(segments evaluated inside each COPY)`);
}

if (failures.length) {
  console.error(`\nrace: MISMATCH: ${failures.length} of ${results.length} segments differ between b2bseg and DuckDB:`);
  for (const f of failures) console.error(`  ${f}`);
  process.exit(1);
}
console.log(`check: b2bseg and DuckDB produced identical member sets for all ${results.length} segments`);
