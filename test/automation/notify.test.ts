import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI_PATH, TestRepo, expectCode } from '../helpers/cli.js';
import { loadAutomationConfig } from '../../src/automation/config.js';
import { runJobAndNotify } from '../../src/automation/daemon.js';
import { mailText, startHttp, startSmtp } from './servers.js';
import { waitFor } from './fakeClock.js';

const DB_PASSWORD = 'Db-Secr3t-pw!';
const TG_TOKEN = '123456:tg-token-SECRET';

let tr: TestRepo;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let http: Awaited<ReturnType<typeof startHttp>>;
let configFile: string;
const env: Record<string, string> = {};

function configYaml(): string {
  return `
cache_dir: ${JSON.stringify(tr.cache)}
repositories:
  main:
    location: ${JSON.stringify(tr.repo)}
    password_env: TEST_OCV_REPO_PW
sources:
  files:
    paths: [data]
  shop:
    paths: [data]
    db: mysql://shopuser@127.0.0.1:1/shop
    db_password_env: TEST_OCV_DB_PW
jobs:
  - name: files-backup
    type: backup
    source: files
    schedule: "0 3 * * *"
  - name: shop-backup
    type: backup
    source: shop
    kind: full
    schedule: "15 3 * * *"
  - name: maintenance
    type: backup
    source: files
    hooks:
      before: ["echo switching on maintenance mode; echo cannot reach the store >&2; exit 7"]
  - name: with-after
    type: backup
    source: files
    hooks:
      before: ["echo ok"]
      after: ["test \\"$OCVAULT_STATUS\\" = success && echo \\"$OCVAULT_JOB\\" > after-ran"]
notifications:
  - name: mail
    type: smtp
    host: 127.0.0.1
    port: ${smtp.port}
    ignore_tls: true
    from: ocvault@shop.example
    to: [owner@shop.example]
    on: [failure]
  - name: hook
    type: webhook
    url: http://127.0.0.1:${http.port}/hook
    on: [success, warning, failure]
  - name: slack
    type: slack
    url: http://127.0.0.1:${http.port}/slack
    on: [failure]
  - name: telegram
    type: telegram
    api_url: http://127.0.0.1:${http.port}/tg
    token_env: TEST_OCV_TG_TOKEN
    chat_id: "-1001"
    on: [failure]
`;
}

before(async () => {
  tr = await TestRepo.create();
  smtp = await startSmtp();
  http = await startHttp();
  await fsp.mkdir(tr.path('data'));
  await fsp.writeFile(tr.path('data', 'index.php'), '<?php echo "shop";\n'.repeat(100));
  configFile = tr.path('ocvault.yml');
  await fsp.writeFile(configFile, configYaml());
  Object.assign(env, { TEST_OCV_REPO_PW: tr.password, TEST_OCV_DB_PW: DB_PASSWORD, TEST_OCV_TG_TOKEN: TG_TOKEN });
  Object.assign(process.env, env);
});

after(async () => {
  await smtp.close();
  await http.close();
  await tr.cleanup();
});

function reset(): void {
  smtp.mails.length = 0;
  http.posts.length = 0;
}

const noSecrets = (text: string, what: string): void => {
  for (const s of [DB_PASSWORD, encodeURIComponent(DB_PASSWORD), tr.password, TG_TOKEN]) assert.ok(!text.includes(s), `${what} contains a secret: ${text}`);
};

test('a successful backup: the webhook gets snapshot id, bytes added, duration; failure-only channels stay quiet', async () => {
  reset();
  const cfg = loadAutomationConfig(configFile);
  const o = await runJobAndNotify(cfg, 'files-backup');
  assert.equal(o.status, 'success', JSON.stringify(o));
  assert.match(o.snapshotId ?? '', /^[0-9a-f]{64}$/);
  assert.ok((o.addedBytes ?? 0) > 0);
  assert.equal(http.posts.length, 1);
  const p = http.posts[0]!;
  assert.equal(p.path, '/hook');
  const body = p.body as Record<string, unknown>;
  assert.equal(body.event, 'success');
  assert.equal(body.job, 'files-backup');
  assert.equal(body.store, 'files');
  assert.equal(body.snapshotId, o.snapshotId);
  assert.equal(typeof body.durationMs, 'number');
  assert.equal(smtp.mails.length, 0);
  const snaps = await tr.snapshots();
  assert.ok(snaps.some((s) => s.id === o.snapshotId));
});

test('an unreachable database: every channel hears of the failure, the text names the problem and holds no password', async () => {
  reset();
  const cfg = loadAutomationConfig(configFile);
  const o = await runJobAndNotify(cfg, 'shop-backup');
  assert.equal(o.status, 'failure');
  assert.match(o.error ?? '', /127\.0\.0\.1:1/);
  assert.match(o.error ?? '', /refused/i);
  await waitFor(() => smtp.mails.length === 1);
  const mail = smtp.mails[0]!;
  assert.deepEqual(mail.to, ['owner@shop.example']);
  const text = mailText(mail.raw);
  assert.match(text, /Subject: ocvault: job shop-backup FAILED/);
  assert.match(text, /Error: .*127\.0\.0\.1:1.*refused/i);
  assert.match(text, /Duration: /);
  noSecrets(text, 'the mail');

  const byPath = new Map(http.posts.map((p) => [p.path.replace(/bot[^/]+/, 'bot<token>'), p.body]));
  assert.deepEqual([...byPath.keys()].sort(), ['/hook', '/slack', '/tg/bot<token>/sendMessage']);
  assert.ok(http.posts.some((p) => p.path === `/tg/bot${TG_TOKEN}/sendMessage`), 'telegram gets its token in the path');
  const hook = byPath.get('/hook') as Record<string, unknown>;
  assert.equal(hook.event, 'failure');
  assert.match(String(hook.error), /refused/i);
  const slack = byPath.get('/slack') as { text: string };
  assert.match(slack.text, /shop-backup FAILED/);
  assert.match(slack.text, /refused/i);
  const tg = byPath.get('/tg/bot<token>/sendMessage') as { chat_id: string; text: string };
  assert.equal(tg.chat_id, '-1001');
  assert.match(tg.text, /refused/i);
  for (const p of http.posts) noSecrets(JSON.stringify(p.body), `the post to ${p.path}`);
});

test('a failing before-hook fails the job without running it, and notifies', async () => {
  reset();
  const before = (await tr.snapshots()).length;
  const cfg = loadAutomationConfig(configFile);
  const o = await runJobAndNotify(cfg, 'maintenance');
  assert.equal(o.status, 'failure');
  assert.match(o.error ?? '', /before-hook ".*" exited with status 7: cannot reach the store; the job did not run/);
  assert.equal((await tr.snapshots()).length, before, 'no snapshot was made');
  await waitFor(() => smtp.mails.length === 1);
  assert.match(mailText(smtp.mails[0]!.raw), /exited with status 7/);
});

test('after-hooks run with the outcome in the environment', async () => {
  reset();
  const cfg = loadAutomationConfig(configFile);
  const cwd = process.cwd();
  process.chdir(tr.base);
  try {
    const o = await runJobAndNotify(cfg, 'with-after');
    assert.equal(o.status, 'success', JSON.stringify(o));
  } finally {
    process.chdir(cwd);
  }
  assert.equal((await fsp.readFile(tr.path('after-ran'), 'utf8')).trim(), 'with-after');
});

test('ocvault run-job: exit 1 on failure, notification sent, no secret on stderr', async () => {
  reset();
  const r = await tr.run(['run-job', 'shop-backup', '--config', configFile], { env });
  expectCode(r, 1);
  assert.match(r.stderr, /job shop-backup failure: .*refused/i);
  noSecrets(r.stdout + r.stderr, 'the CLI output');
  await waitFor(() => smtp.mails.length === 1);
  const ok = await tr.run(['run-job', 'files-backup', '--config', configFile, '--json'], { env });
  expectCode(ok, 0);
  assert.equal((JSON.parse(ok.stdout) as { status: string }).status, 'success');
});

test('ocvault daemon: reports and runs a missed job on start, stops on SIGTERM', async () => {
  reset();
  const state = `${configFile}.state.json`;
  // shop-backup last ran long ago: its 03:15 run was missed; files-backup ran a moment ago
  await fsp.writeFile(state, JSON.stringify({ lastRun: { 'shop-backup': new Date(Date.now() - 3 * 86400_000).toISOString(), 'files-backup': new Date().toISOString() } }));
  const d = tr.start(['daemon', '--config', configFile], { env });
  let stderr = '';
  d.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitFor(() => /job shop-backup failure/.test(stderr) && /daemon started/.test(stderr), 30_000);
  await waitFor(() => http.posts.filter((p) => p.path === '/hook').length >= 2, 10_000);
  const events = http.posts.filter((p) => p.path === '/hook').map((p) => p.body as { event: string; job: string; summary: string });
  assert.ok(events.some((e) => e.event === 'warning' && e.job === 'shop-backup' && /missed run/.test(e.summary)), JSON.stringify(events));
  assert.ok(events.some((e) => e.event === 'failure' && e.job === 'shop-backup'));
  assert.ok(!events.some((e) => e.job === 'files-backup'), 'files-backup missed nothing');
  d.child.kill('SIGTERM');
  const r = await d.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /daemon stopped/);
  noSecrets(r.stderr, 'the daemon log');
  const saved = JSON.parse(await fsp.readFile(state, 'utf8')) as { lastRun: Record<string, string> };
  assert.ok(Date.now() - new Date(saved.lastRun['shop-backup']!).getTime() < 60_000, 'the missed run is recorded');
});

test('ocvault schedule prints crontab lines and systemd units calling run-job', async () => {
  const c = await tr.run(['schedule', '--crontab', '--config', configFile, '--ocvault', '/usr/bin/ocvault']);
  expectCode(c, 0);
  assert.match(c.stdout, new RegExp(`^0 3 \\* \\* \\* /usr/bin/ocvault run-job files-backup --config ${configFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  assert.match(c.stdout, /^15 3 \* \* \* \/usr\/bin\/ocvault run-job shop-backup /m);
  assert.ok(!c.stdout.includes('maintenance'), 'unscheduled jobs are left out');
  const s = await tr.run(['schedule', '--systemd', '--config', configFile, '--ocvault', '/usr/bin/ocvault']);
  expectCode(s, 0);
  assert.match(s.stdout, /# ---- ocvault-files-backup\.service ----/);
  assert.match(s.stdout, /ExecStart=\/usr\/bin\/ocvault run-job files-backup --config /);
  assert.match(s.stdout, /OnCalendar=\*-\*-\* 03:15:00/);
  assert.match(s.stdout, /Persistent=true/);
  expectCode(await tr.run(['schedule', '--config', configFile]), 2);
});

test('ocvault schedule calls the launcher it was started by when no command is given', async () => {
  const c = await tr.run(['schedule', '--crontab', '--config', configFile]);
  expectCode(c, 0);
  // the launcher, not bin/ocvault.js: scheduled runs get its allocator settings too
  assert.match(c.stdout, new RegExp(`^0 3 \\* \\* \\* ${CLI_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} run-job files-backup `, 'm'));
});

test('a bad config file is rejected by the CLI with the key and the reason', async () => {
  const bad = path.join(tr.base, 'bad.yml');
  await fsp.writeFile(bad, configYaml().replace('schedule: "15 3 * * *"', 'schedule: "61 * * * *"'));
  const r = await tr.run(['run-job', 'files-backup', '--config', bad]);
  expectCode(r, 1);
  assert.match(r.stderr, /bad\.yml: jobs\[1\]\.schedule: "61 \* \* \* \*" is not a valid cron expression \(minute 61 out of range 0-59\)/);
  const missing = await tr.run(['daemon', '--config', path.join(tr.base, 'nope.yml')]);
  expectCode(missing, 1);
  assert.match(missing.stderr, /cannot read config file .*nope\.yml: ENOENT/);
});
