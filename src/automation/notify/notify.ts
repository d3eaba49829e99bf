import * as os from 'node:os';
import type { Channel } from '../config.js';
import type { JobOutcome } from '../runJob.js';
import type { Redactor } from '../secrets.js';
import { formatOutcome, type NotifyMessage } from './message.js';
import { sendSmtp } from './smtp.js';
import { sendTelegram, sendWebhook } from './webhook.js';

export interface ChannelResult {
  channel: string;
  ok: boolean;
  error?: string;
}

function send(ch: Channel, msg: NotifyMessage): Promise<void> {
  switch (ch.type) {
    case 'smtp':
      return sendSmtp(ch, msg);
    case 'telegram':
      return sendTelegram(ch, msg);
    default:
      return sendWebhook(ch, msg);
  }
}

/** Channels that want to hear about this outcome (its status, its job). */
export function channelsFor(channels: readonly Channel[], o: JobOutcome): Channel[] {
  return channels.filter((c) => c.on.includes(o.status) && (c.jobs === undefined || c.jobs.includes(o.job)));
}

/**
 * Sends the outcome to every interested channel, in parallel. A channel that fails is reported
 * (secrets removed), never thrown: one broken channel must not hide the others.
 */
export async function notifyOutcome(channels: readonly Channel[], o: JobOutcome, redactor: Redactor, log: (line: string) => void = () => undefined): Promise<ChannelResult[]> {
  const raw = formatOutcome(o, os.hostname());
  const msg: NotifyMessage = { subject: redactor.redact(raw.subject), text: redactor.redact(raw.text), json: JSON.parse(redactor.redact(JSON.stringify(raw.json))) as Record<string, unknown> };
  return Promise.all(
    channelsFor(channels, o).map(async (c): Promise<ChannelResult> => {
      try {
        await send(c, msg);
        return { channel: c.name, ok: true };
      } catch (e) {
        const error = redactor.redact((e as Error).message);
        log(`notification ${c.name} (${c.type}) failed: ${error}`);
        return { channel: c.name, ok: false, error };
      }
    }),
  );
}
