import type { StoreFamily } from './storeVersion.js';
import { VOLATILE_TABLES } from './volatileTables.js';
import { withTrailingSlash } from './cloneConfig.js';

/** A statement with `?` parameters; `orElse` runs when it changed no row. */
export interface Statement {
  sql: string;
  values?: unknown[];
  orElse?: Statement;
}

/** What the staging database holds, read before the statements are made. */
export interface StagingFacts {
  prefix: string;
  family: StoreFamily;
  /** base tables of the database */
  tables: readonly string[];
  /** columns of `<prefix>setting` and `<prefix>store` */
  settingColumns: readonly string[];
  storeColumns: readonly string[];
  /** the extra stores (`<prefix>store` rows) */
  stores: ReadonlyArray<{ id: number; url: string }>;
}

export interface StagingChoices {
  /** the staging copy's URL */
  url: string;
  /** extra stores' URLs by store_id (default: extraStoreUrl) */
  storeUrls?: Readonly<Record<number, string>>;
  noMail?: boolean;
  maintenance?: boolean;
}

function ident(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * Where an extra store of a staging copy lives: a subdomain of the staging host named after
 * its store_id, same path (`https://staging.example.com/` → `https://store1.staging.example.com/`).
 * OpenCart picks a store by the requested host and path, and every store is served from the
 * same folder, so pointing `*.staging.example.com` at the staging copy serves them all.
 */
export function extraStoreUrl(stagingUrl: string, storeId: number): string {
  const u = new URL(withTrailingSlash(stagingUrl));
  u.hostname = `store${storeId}.${u.hostname}`;
  return u.toString();
}

/** The mail switch of each family: 4.x has an empty engine for "none"; older versions see below. */
function noMailStatements(f: StagingFacts, setting: string): Statement[] {
  const key = ident('key');
  if (f.family === '4.x') return [{ sql: `UPDATE ${setting} SET \`value\` = '' WHERE ${key} = 'config_mail_engine'` }];
  if (f.family === '3.0') {
    // 3.0's Mail class exits on an unknown engine, so switch off the mail events instead
    // (order, account, affiliate, voucher, review mails, from the catalog and the admin).
    const event = f.prefix + 'event';
    return f.tables.includes(event) ? [{ sql: `UPDATE ${ident(event)} SET status = 0 WHERE code LIKE 'mail\\_%' OR code LIKE 'admin\\_mail\\_%'` }] : [];
  }
  // 1.5 / 2.x: Mail::send() sends only with protocol 'mail' or 'smtp'
  return [{ sql: `UPDATE ${setting} SET \`value\` = 'none' WHERE ${key} = 'config_mail_protocol'` }];
}

/**
 * The statements that turn a freshly loaded copy of a store's database into a staging
 * database: sessions, API sessions and the online report emptied, guest carts deleted, extra
 * stores moved to staging URLs (their `url`, `ssl` and the `config_url`/`config_ssl` settings),
 * optionally mail off and maintenance mode on.
 */
export function stagingStatements(f: StagingFacts, c: StagingChoices): Statement[] {
  const out: Statement[] = [];
  const has = (t: string): boolean => f.tables.includes(f.prefix + t);
  for (const t of VOLATILE_TABLES) if (has(t)) out.push({ sql: `TRUNCATE TABLE ${ident(f.prefix + t)}` });
  if (has('cart')) out.push({ sql: `DELETE FROM ${ident(f.prefix + 'cart')} WHERE customer_id = 0` });
  const setting = ident(f.prefix + 'setting');
  const url = withTrailingSlash(c.url);
  if (has('setting')) {
    out.push({ sql: `UPDATE ${setting} SET \`value\` = ? WHERE store_id = 0 AND \`key\` IN ('config_url', 'config_ssl')`, values: [url] });
  }
  if (has('store')) {
    const store = ident(f.prefix + 'store');
    const hasSsl = f.storeColumns.includes('ssl');
    for (const s of f.stores) {
      const u = c.storeUrls?.[s.id] ?? extraStoreUrl(url, s.id);
      out.push({ sql: `UPDATE ${store} SET url = ?${hasSsl ? ', `ssl` = ?' : ''} WHERE store_id = ?`, values: hasSsl ? [u, u, s.id] : [u, s.id] });
      if (has('setting')) out.push({ sql: `UPDATE ${setting} SET \`value\` = ? WHERE store_id = ? AND \`key\` IN ('config_url', 'config_ssl')`, values: [u, s.id] });
    }
  }
  if (has('setting') && c.noMail) out.push(...noMailStatements(f, setting));
  if (has('setting') && c.maintenance) {
    const group = f.settingColumns.includes('code') ? 'code' : 'group';
    out.push({
      sql: `UPDATE ${setting} SET \`value\` = '1' WHERE store_id = 0 AND \`key\` = 'config_maintenance'`,
      orElse: { sql: `INSERT INTO ${setting} (store_id, ${ident(group)}, \`key\`, \`value\`, serialized) VALUES (0, 'config', 'config_maintenance', '1', 0)` },
    });
  }
  return out;
}

/** The store URLs a staging copy ends up with (for the report). */
export function stagingStoreUrls(f: Pick<StagingFacts, 'stores'>, c: StagingChoices): Array<{ id: number; url: string }> {
  const url = withTrailingSlash(c.url);
  return f.stores.map((s) => ({ id: s.id, url: c.storeUrls?.[s.id] ?? extraStoreUrl(url, s.id) }));
}
