import type { SmtpChannel } from '../config.js';
import { resolveSecret } from '../secrets.js';
import type { NotifyMessage } from './message.js';
import { tlsContext } from '../../storage/tlsTrust.js';

/** Sends the message as a plain-text mail through the configured SMTP server. */
export async function sendSmtp(ch: SmtpChannel, msg: NotifyMessage): Promise<void> {
  const pass = ch.password ? resolveSecret(ch.password, `notification ${ch.name} password`) : undefined;
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: ch.host,
    port: ch.port,
    secure: ch.secure,
    ignoreTLS: ch.ignoreTls,
    auth: ch.user ? { user: ch.user, pass: pass ?? '' } : undefined,
    // the certificates a deferred NODE_EXTRA_CA_CERTS names (see tlsTrust.ts)
    tls: { secureContext: tlsContext() },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  try {
    await transport.sendMail({ from: ch.from, to: ch.to, subject: msg.subject, text: msg.text });
  } finally {
    transport.close();
  }
}
