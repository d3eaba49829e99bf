import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { parseAutomationConfig } from '../../src/automation/config.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

const GOOD = `
repositories:
  local:
    location: /backup/repo
    password_file: secrets/repo-pw
    mirrors: [offsite]
  offsite:
    location: sftp://backup@nas.example/ocvault
    password_env: OFFSITE_PW
stores:
  shop:
    path: /var/www/shop
    exclude: ["*.log"]
sources:
  media:
    paths: [/srv/media]
    db: mysql://media@localhost:3306/media
    db_password_file: /etc/ocvault/media-db-pw
hooks:
  timeout: 120
jobs:
  - {name: daily, type: backup, store: shop, schedule: "0 2 * * *"}
  - {name: weekly-full, type: backup, store: shop, kind: full, schedule: "0 3 * * sun"}
  - name: tidy
    type: forget
    schedule: "30 2 * * *"
    keep: {daily: 7, weekly: 4, monthly: 12, within: 2d}
    prune: true
  - {name: drill, type: drill, schedule: "@monthly"}
  - {name: verify, type: check, read_data: 1/10, repository: offsite, hooks: {before: ["true"]}}
notifications:
  - {type: smtp, host: mail.example, port: 587, user: ocvault, password_env: SMTP_PW, from: a@example, to: b@example}
  - {type: slack, url_env: SLACK_URL, on: [success, warning, failure], jobs: [daily]}
  - {type: telegram, token_file: tg-token, chat_id: 42}
`;

test('a full config parses: defaults, relative paths, secrets by reference', () => {
  const c = parseAutomationConfig(parse(GOOD), '/etc/ocvault/ocvault.yml');
  assert.equal(c.stateFile, '/etc/ocvault/ocvault.yml.state.json');
  assert.deepEqual(c.repositories.get('local')!.password, { file: '/etc/ocvault/secrets/repo-pw' });
  assert.deepEqual(c.repositories.get('offsite')!.password, { env: 'OFFSITE_PW' });
  assert.equal(c.stores.get('shop')!.repository, 'local', 'the one non-mirror repository is the default');
  const jobs = new Map(c.jobs.map((j) => [j.name, j]));
  assert.equal(jobs.get('daily')!.kind, 'incremental');
  assert.equal(jobs.get('weekly-full')!.kind, 'full');
  assert.equal(jobs.get('tidy')!.keep!.daily, 7);
  assert.equal(jobs.get('tidy')!.keep!.within!.days, 2);
  assert.equal(jobs.get('tidy')!.prune, true);
  assert.equal(jobs.get('verify')!.repository, 'offsite');
  assert.equal(jobs.get('verify')!.hooks.timeoutMs, 120_000);
  assert.deepEqual(c.notifications.map((n) => [n.type, n.on]), [['smtp', ['failure']], ['slack', ['success', 'warning', 'failure']], ['telegram', ['failure']]]);
});

test('bad configs name the key path and the reason', () => {
  const doc = (): Record<string, any> => parse(GOOD) as Record<string, any>;
  const cases: [string, (d: Record<string, any>) => void, RegExp][] = [
    ['cron', (d) => (d.jobs[2].schedule = '61 * * * *'), /^jobs\[2\]\.schedule: "61 \* \* \* \*" is not a valid cron expression \(minute 61 out of range 0-59\)$/],
    ['job type', (d) => (d.jobs[0].type = 'backpu'), /^jobs\[0\]\.type: "backpu" is not a job type/],
    ['unknown store', (d) => (d.jobs[1].store = 'shopp'), /^jobs\[1\]\.store: "shopp" is not defined under stores$/],
    ['kind', (d) => (d.jobs[0].kind = 'weekly'), /^jobs\[0\]\.kind: "weekly" is not a backup kind/],
    ['keep missing', (d) => delete d.jobs[2].keep, /^jobs\[2\]\.keep: a forget job needs a keep policy$/],
    ['keep typo', (d) => (d.jobs[2].keep.dayly = 3), /^jobs\[2\]\.keep\.dayly: unknown key/],
    ['duplicate name', (d) => (d.jobs[1].name = 'daily'), /^jobs\[1\]\.name: "daily" is used by another job$/],
    ['mirror', (d) => (d.repositories.local.mirrors = ['elsewhere']), /^repositories\.local\.mirrors\[0\]: "elsewhere" is not a repository/],
    ['two secrets', (d) => (d.repositories.offsite.password = 'x'), /^repositories\.offsite\.password_env: give only one of password, password_env/],
    ['db url', (d) => (d.sources.media.db = 'postgres://x@y/z'), /^sources\.media\.db: must be a mysql:\/\/ URL/],
    ['event', (d) => (d.notifications[1].on = ['failures']), /^notifications\[1\]\.on\[0\]: "failures" is not an event/],
    ['channel type', (d) => (d.notifications[0].type = 'email'), /^notifications\[0\]\.type: "email" is not a notification type/],
    ['smtp to', (d) => delete d.notifications[0].to, /^notifications\[0\]\.to: is required/],
    ['hook timeout', (d) => (d.hooks.timeout = -1), /^hooks\.timeout: must be a whole number of at least 1/],
    ['top level', (d) => (d.job = []), /^\(top level\)\.job: unknown key/],
    ['no repository', (d) => delete d.repositories, /^repositories: at least one repository is required$/],
    ['backup target', (d) => delete d.jobs[0].store, /^jobs\[0\]: a backup job needs a store or a source$/],
  ];
  for (const [what, edit, re] of cases) {
    const d = doc();
    edit(d);
    assert.throws(
      () => parseAutomationConfig(d, '/etc/ocvault/ocvault.yml'),
      (e: unknown) => e instanceof OcvaultError && e.code === 'BadConfig' && re.test(e.message),
      what,
    );
  }
});
