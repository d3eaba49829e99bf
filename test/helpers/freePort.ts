import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10_000, alive: () => boolean = () => true): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
