import type { AutomationConfig } from './config.js';
import { parseCron, type CronExpr } from './cron.js';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function list(set: ReadonlySet<number>, full: number, pad: boolean): string {
  if (set.size === full) return '*';
  return [...set].sort((a, b) => a - b).map((v) => (pad ? String(v).padStart(2, '0') : String(v))).join(',');
}

/**
 * systemd OnCalendar= values equal to a cron expression. Cron fires when either restricted day
 * field matches; systemd requires both, so such an expression becomes two lines.
 */
export function onCalendar(c: CronExpr): string[] {
  const time = `${list(c.hours, 24, true)}:${list(c.minutes, 60, true)}:00`;
  const month = list(c.months, 12, true);
  const dows = [...c.weekdays].sort((a, b) => a - b).map((d) => DAY_NAMES[d]!).join(',');
  const dom = list(c.days, 31, true);
  const line = (dow: string, day: string): string => `${dow ? `${dow} ` : ''}*-${month}-${day} ${time}`;
  if (c.anyDay && c.anyWeekday) return [line('', '*')];
  if (c.anyDay) return [line(dows, '*')];
  if (c.anyWeekday) return [line('', dom)];
  return [line('', dom), line(dows, '*')];
}

export interface UnitOptions {
  /** the ocvault command (absolute) */
  ocvault: string;
  /** the config file (absolute) */
  configFile: string;
}

function command(o: UnitOptions, job: string): string {
  return `${shellQuote(o.ocvault)} run-job ${shellQuote(job)} --config ${shellQuote(o.configFile)}`;
}

/** crontab lines, one per scheduled job. */
export function crontab(cfg: AutomationConfig, o: UnitOptions): string {
  const lines = [`# ocvault jobs from ${o.configFile}`];
  for (const j of cfg.jobs) {
    if (!j.schedule) continue;
    lines.push(`# ${j.name}: ${j.type}${j.type === 'backup' ? ` (${j.kind})` : ''} on repository ${j.repository}`);
    lines.push(`${j.schedule} ${command(o, j.name)}`);
  }
  return lines.join('\n') + '\n';
}

export interface Unit {
  name: string;
  text: string;
}

/** A oneshot service and a persistent timer per scheduled job. */
export function systemdUnits(cfg: AutomationConfig, o: UnitOptions): Unit[] {
  const units: Unit[] = [];
  for (const j of cfg.jobs) {
    if (!j.schedule) continue;
    const base = `ocvault-${j.name}`;
    units.push({
      name: `${base}.service`,
      text: ['[Unit]', `Description=ocvault job ${j.name} (${j.type})`, 'Wants=network-online.target', 'After=network-online.target', '', '[Service]', 'Type=oneshot', `ExecStart=${command(o, j.name)}`, 'Nice=10', 'IOSchedulingClass=idle', ''].join('\n'),
    });
    units.push({
      name: `${base}.timer`,
      text: ['[Unit]', `Description=ocvault job ${j.name}: ${j.schedule}`, '', '[Timer]', ...onCalendar(parseCron(j.schedule)).map((c) => `OnCalendar=${c}`), 'Persistent=true', `Unit=${base}.service`, '', '[Install]', 'WantedBy=timers.target', ''].join('\n'),
    });
  }
  return units;
}
