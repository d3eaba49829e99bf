/**
 * Deterministic OpenCart-scale database for the database benchmark.
 *
 * Loads the OpenCart 4.1 demo fixture and adds, at scale 1: 60 000 customers, 20 000
 * products (+ descriptions, store and category links), 250 000 orders with 3 order lines
 * and 2 history rows each (≈ 300 MB as a mariadb-dump). Rows are written as TSV files and
 * loaded with `LOAD DATA LOCAL INFILE`. Also "one day of trading" (tradingDay()).
 *
 * Standalone: `node dist/bench/dbGenerate.js [--scale N]` starts a throwaway server,
 * generates, prints row counts and sizes, and stops it (the server dies with the process,
 * so dbRun.ts generates inside its own run).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from './prng.js';

export interface DbServer {
  socket: string;
  user: string;
  password: string;
}

export interface GenerateOptions {
  scale: number;
  seed: number;
  /** scratch folder for the TSV files (removed afterwards) */
  workDir: string;
  fixture: string;
}

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const DEFAULT_FIXTURE = resolve(REPO_ROOT, '../shared/fixtures/opencart-4.1-demo.sql.gz');

export function clientArgs(s: DbServer): string[] {
  return [`--socket=${s.socket}`, `-u${s.user}`, `-p${s.password}`];
}

/** Runs SQL through the mariadb client; returns stdout (batch, no column names). */
export function sql(s: DbServer, db: string, statements: string, extra: string[] = []): string {
  const r = spawnSync('mariadb', [...clientArgs(s), '-N', '-B', ...extra, ...(db ? [db] : [])], {
    input: statements, encoding: 'utf8', maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`mariadb failed: ${r.stderr.trim().slice(0, 2000)}\nSQL: ${statements.slice(0, 300)}`);
  return r.stdout;
}

const FIRST = ['Anna', 'Ben', 'Clara', 'David', 'Eva', 'Felix', 'Greta', 'Hugo', 'Ida', 'Jonas', 'Karin', 'Lukas', 'Mia', 'Noah', 'Olga', 'Paul', 'Rosa', 'Sven', 'Tina', 'Uwe', 'Vera', 'Willi', 'Zoe', 'José', 'Łukasz', 'Søren'];
const LAST = ['Meyer', 'Schmidt', 'Novak', 'Rossi', 'García', 'Smith', 'Jones', 'Kowalski', 'Dubois', 'Jansen', 'Berg', 'Olsen', 'Horváth', 'Popescu', 'Ivanov', 'Costa', 'Müller', 'Weber'];
const CITIES = ['Berlin', 'Hamburg', 'Wien', 'Zürich', 'Paris', 'Lyon', 'Madrid', 'Lisboa', 'Praha', 'Warszawa', 'Amsterdam', 'London', 'Leeds', 'Dublin', 'Oslo', 'Milano'];
const STREETS = ['Hauptstraße', 'Bahnhofstraße', 'Rue de la Paix', 'High Street', 'Calle Mayor', 'Main Road', 'Kirchweg', 'Ringstraße'];
const WORDS = ('quality premium cotton steel wireless compact classic modern ergonomic durable lightweight waterproof ' +
  'handmade organic vintage portable adjustable stainless digital smart eco leather wooden ceramic glass silver ' +
  'black white blue red green large small medium set pack kit edition pro max mini ultra deluxe').split(' ');
const NOUNS = ['Shirt', 'Lamp', 'Chair', 'Mug', 'Headphones', 'Backpack', 'Watch', 'Kettle', 'Jacket', 'Speaker', 'Camera', 'Desk', 'Bottle', 'Shoes', 'Phone Case', 'Blender'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
];
const ADDRESS_FORMAT = '{firstname} {lastname}\\n{company}\\n{address_1}\\n{address_2}\\n{city} {postcode}\\n{zone}\\n{country}';
const PAYMENT = '{"name":"Cash On Delivery","code":"cod.cod"}';
const SHIPPING = '{"name":"Flat Shipping Rate","code":"flat.flat","cost":"5.00","tax_class_id":"9"}';

const BASE_TIME = Date.UTC(2021, 0, 1);
/** The benchmark's "now": day of trading happens on this date. */
export const TRADING_DAY = Date.UTC(2026, 0, 15, 8);

export function dt(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function words(rng: Rng, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(rng.pick(WORDS));
  return out.join(' ');
}

function money(v: number): string {
  return v.toFixed(4);
}

/** Columns written for each generated table (all NOT NULL columns without a default included; checked at load time). */
export const COLUMNS = {
  oc_customer: ['customer_id', 'customer_group_id', 'store_id', 'language_id', 'firstname', 'lastname', 'email', 'telephone', 'password', 'custom_field', 'newsletter', 'ip', 'status', 'safe', 'commenter', 'token', 'code', 'date_added'],
  oc_product: ['product_id', 'master_id', 'model', 'location', 'variant', 'override', 'quantity', 'stock_status_id', 'image', 'manufacturer_id', 'shipping', 'price', 'points', 'tax_class_id', 'date_available', 'weight', 'weight_class_id', 'length', 'width', 'height', 'length_class_id', 'subtract', 'minimum', 'rating', 'sort_order', 'status', 'date_added', 'date_modified'],
  oc_product_description: ['product_id', 'language_id', 'name', 'description', 'tag', 'meta_title', 'meta_description', 'meta_keyword'],
  oc_product_to_store: ['product_id', 'store_id'],
  oc_product_to_category: ['product_id', 'category_id'],
  oc_order: ['order_id', 'subscription_id', 'invoice_no', 'invoice_prefix', 'transaction_id', 'store_id', 'store_name', 'store_url', 'customer_id', 'customer_group_id', 'firstname', 'lastname', 'email', 'telephone', 'custom_field', 'payment_address_id', 'payment_firstname', 'payment_lastname', 'payment_company', 'payment_address_1', 'payment_address_2', 'payment_city', 'payment_postcode', 'payment_country', 'payment_country_id', 'payment_zone', 'payment_zone_id', 'payment_address_format', 'payment_custom_field', 'payment_method', 'shipping_address_id', 'shipping_firstname', 'shipping_lastname', 'shipping_company', 'shipping_address_1', 'shipping_address_2', 'shipping_city', 'shipping_postcode', 'shipping_country', 'shipping_country_id', 'shipping_zone', 'shipping_zone_id', 'shipping_address_format', 'shipping_custom_field', 'shipping_method', 'comment', 'total', 'order_status_id', 'affiliate_id', 'commission', 'marketing_id', 'tracking', 'language_id', 'language_code', 'currency_id', 'currency_code', 'currency_value', 'ip', 'forwarded_ip', 'user_agent', 'accept_language', 'date_added', 'date_modified'],
  oc_order_product: ['order_product_id', 'order_id', 'product_id', 'master_id', 'name', 'model', 'quantity', 'price', 'total', 'tax', 'reward'],
  oc_order_history: ['order_history_id', 'order_id', 'order_status_id', 'notify', 'comment', 'date_added'],
} as const;
type Table = keyof typeof COLUMNS;

/** Fails if the fixture has a NOT NULL column without a default that we do not fill. */
function checkColumns(s: DbServer, db: string): void {
  for (const [table, cols] of Object.entries(COLUMNS)) {
    const rows = sql(s, db, `SHOW COLUMNS FROM \`${table}\``).trim().split('\n').map((l) => l.split('\t'));
    const ours = new Set<string>(cols);
    for (const [field = '', , isNull, , def, extra = ''] of rows) {
      if (isNull === 'NO' && def === 'NULL' && !extra.includes('auto_increment') && !ours.has(field)) {
        throw new Error(`${table}.${field} is NOT NULL without a default but not generated`);
      }
    }
    for (const c of cols) if (!rows.some((r) => r[0] === c)) throw new Error(`${table}.${c} does not exist in the fixture`);
  }
}

interface Ids { customer: number; product: number; order: number; orderProduct: number; orderHistory: number }

function maxIds(s: DbServer, db: string): Ids {
  const [c, p, o, op, oh] = sql(s, db,
    'SELECT (SELECT COALESCE(MAX(customer_id),0) FROM oc_customer), (SELECT COALESCE(MAX(product_id),0) FROM oc_product), ' +
    '(SELECT COALESCE(MAX(order_id),0) FROM oc_order), (SELECT COALESCE(MAX(order_product_id),0) FROM oc_order_product), ' +
    '(SELECT COALESCE(MAX(order_history_id),0) FROM oc_order_history)').trim().split('\t').map(Number);
  return { customer: c ?? 0, product: p ?? 0, order: o ?? 0, orderProduct: op ?? 0, orderHistory: oh ?? 0 };
}

type Cell = string | number | null;
function tsv(cells: readonly Cell[]): string {
  return cells.map((c) => (c === null ? '\\N' : String(c))).join('\t') + '\n';
}

class TsvWriter {
  private readonly out: WriteStream;
  private buf: string[] = [];
  private bytes = 0;
  rows = 0;
  constructor(readonly table: Table, readonly path: string) {
    this.out = createWriteStream(path);
  }
  async row(cells: readonly Cell[]): Promise<void> {
    const line = tsv(cells);
    this.buf.push(line);
    this.bytes += line.length;
    this.rows++;
    if (this.bytes > 1 << 20) await this.flush();
  }
  private async flush(): Promise<void> {
    const chunk = this.buf.join('');
    this.buf = [];
    this.bytes = 0;
    if (!this.out.write(chunk)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }
  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((r, j) => this.out.end((e?: Error | null) => (e ? j(e) : r())));
  }
}

interface ProductInfo { id: number; name: string; model: string; price: number }

function customerRow(rng: Rng, id: number, addedMs: number): Cell[] {
  const fn = rng.pick(FIRST);
  const ln = rng.pick(LAST);
  const email = `${fn.toLowerCase()}.${ln.toLowerCase()}${id}@example.com`;
  return [id, 1, 0, 1, fn, ln, email, `+49 ${rng.int(100, 999)} ${rng.int(1000000, 9999999)}`,
    `$2y$10$${rng.u32().toString(36)}${rng.u32().toString(36)}${rng.u32().toString(36)}${rng.u32().toString(36)}abcdefghijklmnop`.slice(0, 60),
    '', rng.int(0, 1), `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`, 1, 0, 0, '', '', dt(addedMs)];
}

function orderRow(rng: Rng, id: number, customer: Cell[], total: number, statusId: number, addedMs: number): Cell[] {
  const [cid, , , , fn, ln, email, tel] = customer;
  const city = rng.pick(CITIES);
  const addr = `${rng.pick(STREETS)} ${rng.int(1, 200)}`;
  const post = String(rng.int(10000, 99999));
  const addrId = Number(cid) * 2;
  return [id, 0, 0, 'INV-2021-00', '', 0, 'Your Store', 'http://localhost/opencart/', cid, 1, fn, ln, email, tel, '[]',
    addrId, fn, ln, '', addr, '', city, post, 'Germany', 81, 'Berlin', 1256, ADDRESS_FORMAT, '[]', PAYMENT,
    addrId, fn, ln, '', addr, '', city, post, 'Germany', 81, 'Berlin', 1256, ADDRESS_FORMAT, '[]', SHIPPING,
    rng.int(0, 9) === 0 ? `Please deliver after ${rng.int(1, 6)} pm, ${words(rng, 4)}` : '',
    money(total), statusId, 0, money(0), 0, '', 1, 'en-gb', 1, 'EUR', '1.00000000',
    `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`, '', rng.pick(AGENTS), 'en-GB,en;q=0.9', dt(addedMs), dt(addedMs + rng.int(0, 86_400) * 1000)];
}

async function loadTsv(s: DbServer, db: string, w: TsvWriter): Promise<void> {
  await w.close();
  sql(s, db, `SET unique_checks=0; SET foreign_key_checks=0; LOAD DATA LOCAL INFILE '${w.path}' INTO TABLE \`${w.table}\` ` +
    `CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (${COLUMNS[w.table].map((c) => `\`${c}\``).join(',')});`,
  ['--local-infile=1']);
}

export interface GenerateResult { customers: number; products: number; orders: number; orderProducts: number; orderHistory: number; seconds: number }

/** Creates `db`, loads the fixture and the generated rows. */
export async function generateDatabase(s: DbServer, db: string, o: GenerateOptions): Promise<GenerateResult> {
  const started = Date.now();
  sql(s, '', `DROP DATABASE IF EXISTS \`${db}\`; CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`);
  const load = spawnSync('sh', ['-c', 'zcat "$1" | mariadb "$2" "$3" "$4" "$5"', 'sh', o.fixture, ...clientArgs(s), db], { encoding: 'utf8' });
  if (load.status !== 0) throw new Error(`loading the fixture failed: ${load.stderr}`);
  checkColumns(s, db);

  const nCustomers = Math.round(60_000 * o.scale);
  const nProducts = Math.round(20_000 * o.scale);
  const nOrders = Math.round(250_000 * o.scale);
  const base = maxIds(s, db);
  rmSync(o.workDir, { recursive: true, force: true });
  mkdirSync(o.workDir, { recursive: true });
  const w = (t: Table): TsvWriter => new TsvWriter(t, join(o.workDir, `${t}.tsv`));

  // customers
  const rng = new Rng(o.seed, 101);
  const customers: Cell[][] = [];
  const wc = w('oc_customer');
  const span = TRADING_DAY - BASE_TIME;
  for (let i = 0; i < nCustomers; i++) {
    const row = customerRow(rng, base.customer + 1 + i, BASE_TIME + Math.floor((i / nCustomers) * span * 0.9));
    customers.push(row);
    await wc.row(row);
  }
  await loadTsv(s, db, wc);

  // products
  const prng = new Rng(o.seed, 202);
  const products: ProductInfo[] = [];
  const wp = w('oc_product');
  const wd = w('oc_product_description');
  const ws = w('oc_product_to_store');
  const wcat = w('oc_product_to_category');
  for (let i = 0; i < nProducts; i++) {
    const id = base.product + 1 + i;
    const name = `${words(prng, 2).replace(/^./, (c) => c.toUpperCase())} ${prng.pick(NOUNS)} ${id}`;
    const model = `M-${id.toString(36).toUpperCase()}-${prng.int(100, 999)}`;
    const price = prng.int(199, 99_999) / 100;
    const added = dt(BASE_TIME + prng.int(0, Math.floor(span / 1000)) * 1000);
    products.push({ id, name, model, price });
    await wp.row([id, 0, model, '', '', '', prng.int(0, 500), 7, `catalog/products/p${id}.jpg`, prng.int(5, 10), 1, money(price),
      0, 9, added.slice(0, 10), (prng.int(10, 5000) / 100).toFixed(8), 1, (prng.int(0, 100)).toFixed(8), (prng.int(0, 100)).toFixed(8),
      (prng.int(0, 100)).toFixed(8), 1, 1, 1, 0, 0, 1, added, added]);
    const paras: string[] = [];
    for (let p = 0, n = prng.int(3, 6); p < n; p++) paras.push(`&lt;p&gt;${words(prng, prng.int(20, 60))}.&lt;/p&gt;`);
    await wd.row([id, 1, name, paras.join(''), words(prng, 4).replace(/ /g, ','), name, words(prng, 12), words(prng, 5)]);
    await ws.row([id, 0]);
    await wcat.row([id, prng.int(17, 58)]);
  }
  for (const t of [wp, wd, ws, wcat]) await loadTsv(s, db, t);

  // orders
  const orng = new Rng(o.seed, 303);
  const wo = w('oc_order');
  const wl = w('oc_order_product');
  const wh = w('oc_order_history');
  let opId = base.orderProduct;
  let ohId = base.orderHistory;
  for (let i = 0; i < nOrders; i++) {
    const id = base.order + 1 + i;
    const when = BASE_TIME + Math.floor((i / nOrders) * (TRADING_DAY - BASE_TIME - 86_400_000)) + orng.int(0, 3600) * 1000;
    const written = orderLines(orng, products, id, opId, ohId, when);
    for (const r of written.lines) await wl.row(r);
    for (const r of written.hist) await wh.row(r);
    opId += 3;
    ohId += 2;
    const customer = customers[orng.int(0, customers.length - 1)] ?? [];
    await wo.row(orderRow(orng, id, customer, written.total, written.status, when));
  }
  for (const t of [wo, wl, wh]) await loadTsv(s, db, t);
  rmSync(o.workDir, { recursive: true, force: true });
  return { customers: nCustomers, products: nProducts, orders: nOrders, orderProducts: wl.rows, orderHistory: wh.rows, seconds: (Date.now() - started) / 1000 };
}

function orderLines(rng: Rng, products: readonly ProductInfo[], orderId: number, opBase: number, ohBase: number, when: number): { lines: Cell[][]; hist: Cell[][]; total: number; status: number } {
  let total = 5;
  const lines: Cell[][] = [];
  for (let l = 0; l < 3; l++) {
    const p = products[rng.int(0, products.length - 1)];
    if (p === undefined) throw new Error('no products');
    const q = rng.int(1, 3);
    total += p.price * q;
    lines.push([opBase + 1 + l, orderId, p.id, 0, p.name, p.model, q, money(p.price), money(p.price * q), money(p.price * 0.19), 0]);
  }
  const status = rng.pick([5, 5, 5, 3, 2, 7]);
  const hist: Cell[][] = [
    [ohBase + 1, orderId, 1, 0, '', dt(when)],
    [ohBase + 2, orderId, status, 1, rng.int(0, 4) === 0 ? `Tracking number DHL${rng.int(100000000, 999999999)}` : '', dt(when + rng.int(3600, 5 * 86_400) * 1000)],
  ];
  return { lines, hist, total, status };
}

function sqlValue(c: Cell): string {
  if (c === null) return 'NULL';
  if (typeof c === 'number') return String(c);
  return `'${c.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface TradingDayResult { newOrders: number; pricesChanged: number; statusesChanged: number; customersDeleted: number }

/**
 * One day of trading: 500 new orders (with lines and history), 1 % of product prices
 * changed, every 1000th order's status changed, a few customers deleted. Deterministic.
 */
export function tradingDay(s: DbServer, db: string, seed: number): TradingDayResult {
  const rng = new Rng(seed, 404);
  const ids = maxIds(s, db);
  const productRows = sql(s, db, 'SELECT product_id, name, model, price FROM oc_product JOIN oc_product_description USING (product_id) WHERE language_id = 1 ORDER BY product_id')
    .trim().split('\n').map((l) => l.split('\t'));
  const products: ProductInfo[] = productRows.map(([id, name, model, price]) => ({ id: Number(id), name: name ?? '', model: model ?? '', price: Number(price) }));
  const customerRows = sql(s, db, 'SELECT customer_id, customer_group_id, store_id, language_id, firstname, lastname, email, telephone FROM oc_customer ORDER BY customer_id')
    .trim().split('\n').map((l) => l.split('\t') as Cell[]);
  const stmts: string[] = ['SET autocommit=0;'];
  const orders: Cell[][] = [];
  const lines: Cell[][] = [];
  const hist: Cell[][] = [];
  const nNew = 500;
  for (let i = 0; i < nNew; i++) {
    const id = ids.order + 1 + i;
    const when = TRADING_DAY + Math.floor((i / nNew) * 12 * 3600_000);
    const r = orderLines(rng, products, id, ids.orderProduct + i * 3, ids.orderHistory + i * 2, when);
    lines.push(...r.lines);
    hist.push(...r.hist);
    orders.push(orderRow(rng, id, customerRows[rng.int(0, customerRows.length - 1)] ?? [], r.total, r.status, when));
  }
  const insert = (table: Table, rows: Cell[][]): void => {
    for (let i = 0; i < rows.length; i += 100) {
      stmts.push(`INSERT INTO \`${table}\` (${COLUMNS[table].map((c) => `\`${c}\``).join(',')}) VALUES ` +
        rows.slice(i, i + 100).map((r) => `(${r.map(sqlValue).join(',')})`).join(',') + ';');
    }
  };
  insert('oc_order', orders);
  insert('oc_order_product', lines);
  insert('oc_order_history', hist);
  const nPrices = Math.max(1, Math.round(products.length / 100));
  const changed = new Set<number>();
  while (changed.size < nPrices) changed.add(rng.int(0, products.length - 1));
  for (const idx of [...changed].sort((a, b) => a - b)) {
    const p = products[idx];
    if (p === undefined) continue;
    stmts.push(`UPDATE oc_product SET price = ${money(Math.round(p.price * (0.8 + rng.float() * 0.4) * 100) / 100)}, date_modified = '${dt(TRADING_DAY)}' WHERE product_id = ${p.id};`);
  }
  stmts.push(`UPDATE oc_order SET order_status_id = 5, date_modified = '${dt(TRADING_DAY + 3600_000)}' WHERE order_id % 1000 = 0 AND order_id <= ${ids.order};`);
  const deleted: number[] = [];
  const customerIds = sql(s, db, 'SELECT customer_id FROM oc_customer ORDER BY customer_id').trim().split('\n').map(Number);
  while (deleted.length < 5) {
    const id = customerIds[rng.int(0, customerIds.length - 1)];
    if (id !== undefined && !deleted.includes(id)) deleted.push(id);
  }
  stmts.push(`DELETE FROM oc_customer WHERE customer_id IN (${deleted.join(',')});`);
  stmts.push('COMMIT;');
  const statuses = Number(sql(s, db, `SELECT COUNT(*) FROM oc_order WHERE order_id % 1000 = 0 AND order_id <= ${ids.order}`).trim());
  sql(s, db, stmts.join('\n'));
  return { newOrders: orders.length, pricesChanged: changed.size, statusesChanged: statuses, customersDeleted: deleted.length };
}

async function main(): Promise<void> {
  const { startThrowawayServer } = await import('../src/sources/mysql/index.js');
  const scaleArg = process.argv.indexOf('--scale');
  const scale = Number(scaleArg > 0 ? process.argv[scaleArg + 1] : process.env.OCVAULT_BENCH_DB_SCALE ?? 1);
  const server = await startThrowawayServer({ extraArgs: ['--innodb-buffer-pool-size=1G', '--innodb-log-file-size=256M'] });
  try {
    const r = await generateDatabase(server, 'shop', { scale, seed: 1, workDir: `/tmp/ocvault-dbgen-${process.pid}`, fixture: DEFAULT_FIXTURE });
    console.log(JSON.stringify(r));
    console.log(sql(server, 'shop', "SELECT table_name, table_rows, round((data_length+index_length)/1048576,1) FROM information_schema.tables WHERE table_schema='shop' ORDER BY data_length DESC LIMIT 10"));
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => { console.error(e); process.exit(1); });
}
