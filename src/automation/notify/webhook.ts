import type { TelegramChannel, WebhookChannel } from '../config.js';
import { resolveSecret } from '../secrets.js';
import type { NotifyMessage } from './message.js';
import { httpRequest } from '../../storage/httpRequest.js';

const TIMEOUT_MS = 15_000;

/**
 * POSTs JSON; a non-2xx answer is an error naming the status (never the URL: it may hold a
 * token). Through node:https rather than fetch, which cannot be given the certificates a
 * deferred NODE_EXTRA_CA_CERTS names (see tlsTrust.ts).
 */
async function postJson(url: string, body: unknown): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(body));
  let status: number;
  try {
    ({ status } = await httpRequest({ method: 'POST', url: new URL(url), headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) }, body: [bytes], timeoutMs: TIMEOUT_MS }));
  } catch (e) {
    throw new Error(`request failed: ${(e as { code?: string }).code ?? (e as Error).name}`);
  }
  if (status < 200 || status > 299) throw new Error(`the server answered HTTP ${status}`);
}

/** Generic webhook: the outcome as JSON. Slack-shaped: `{text}`. */
export function sendWebhook(ch: WebhookChannel, msg: NotifyMessage): Promise<void> {
  const url = resolveSecret(ch.url, `notification ${ch.name} url`);
  return postJson(url, ch.type === 'slack' ? { text: msg.text } : msg.json);
}

/** Telegram Bot API sendMessage. */
export function sendTelegram(ch: TelegramChannel, msg: NotifyMessage): Promise<void> {
  const token = resolveSecret(ch.token, `notification ${ch.name} token`);
  return postJson(`${ch.apiUrl}/bot${token}/sendMessage`, { chat_id: ch.chatId, text: msg.text, disable_web_page_preview: true });
}
