import type { TelegramChannel, WebhookChannel } from '../config.js';
import { resolveSecret } from '../secrets.js';
import type { NotifyMessage } from './message.js';

const TIMEOUT_MS = 15_000;

/** POSTs JSON; a non-2xx answer is an error naming the status (never the URL: it may hold a token). */
async function postJson(url: string, body: unknown): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new Error(`request failed: ${cause ?? (e as Error).name}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`the server answered HTTP ${res.status}`);
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
