import type { DbConnection } from './dbConnection.js';

/** Hands out idle connections; callers wait in line when all are busy. */
export class ConnectionPool {
  private readonly free: DbConnection[];
  private readonly waiting: Array<{ resolve: (c: DbConnection) => void; reject: (e: unknown) => void }> = [];
  private closedWith: unknown;

  constructor(connections: readonly DbConnection[]) {
    this.free = [...connections];
  }

  acquire(): Promise<DbConnection> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const c = this.free.pop();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  release(conn: DbConnection): void {
    const next = this.waiting.shift();
    if (next) next.resolve(conn);
    else this.free.push(conn);
  }

  /** Fails every waiting and future acquire with `why`. */
  close(why: unknown): void {
    this.closedWith = why;
    for (const w of this.waiting.splice(0)) w.reject(why);
  }
}
