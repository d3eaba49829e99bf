/**
 * Deterministic generator of an OpenCart-like store tree for the benchmarks.
 *
 * Same seed and scale → byte-identical tree (contents, paths and mtimes). At scale 1:
 * ~16k incompressible image-like files (20–500 KiB, log-skewed, under image/catalog/),
 * ~4k compressible code/text files (1–60 KiB, under admin/, catalog/, system/,
 * extension/), plus config.php, admin/config.php, index.php, .htaccess — about 2 GiB.
 *
 * The tree is written to `<dir>/store-s<scale>-<seed>/` via a `.partial` folder and
 * renamed when complete; a marker `<tree>.marker.json` lets later runs reuse it.
 *
 * Standalone: node dist/bench/generateStore.js [--scale N] [--seed N] [--dir DIR] [--config 1]
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KeyStream, Rng } from './prng.js';
import { TextFactory, type TextKind } from './textContent.js';

export const GENERATOR_VERSION = 1;

export interface GenerateOptions {
  /** Parent folder of generated trees. */
  dir: string;
  /** 1 = ~2 GiB (16k images + 4k text files); file counts scale linearly. */
  scale: number;
  seed: number;
  /** Write config.php / admin/config.php (an OpenCart store is recognised by them). */
  withConfig: boolean;
  log?: (msg: string) => void;
}

export interface StoreInfo {
  root: string;
  files: number;
  bytes: number;
  imageFiles: number;
  textFiles: number;
  reused: boolean;
  seconds: number;
}

interface Marker {
  generatorVersion: number;
  seed: number;
  scale: number;
  withConfig: boolean;
  files: number;
  bytes: number;
  imageFiles: number;
  textFiles: number;
}

type Entry =
  | { kind: 'image'; path: string; size: number; format: 'jpg' | 'png' | 'webp' }
  | { kind: 'text'; path: string; size: number; text: TextKind }
  | { kind: 'fixed'; path: string; content: string };

const KIB = 1024;
const BASE_MTIME = Date.UTC(2025, 0, 1) / 1000;

const CATEGORIES = [
  'desktops', 'laptops', 'components', 'tablets', 'software', 'phones', 'cameras', 'mp3',
  'monitors', 'mice', 'printers', 'scanners', 'webcams', 'accessories', 'furniture', 'garden',
  'toys', 'books', 'clothing', 'shoes', 'jewellery', 'watches', 'sports', 'kitchen',
];
const ADJ = ['red', 'blue', 'pro', 'mini', 'max', 'ultra', 'classic', 'new', 'eco', 'smart', 'lite', 'plus'];
const GROUPS = [
  'catalog', 'sale', 'customer', 'marketing', 'design', 'localisation', 'setting', 'tool', 'user',
  'report', 'extension', 'common', 'account', 'checkout', 'information', 'product', 'cms',
];
const NAMES = [
  'product', 'category', 'manufacturer', 'review', 'order', 'returns', 'voucher', 'subscription',
  'customer', 'customer_group', 'address', 'coupon', 'banner', 'layout', 'seo_url', 'theme',
  'translation', 'language', 'currency', 'tax_rate', 'tax_class', 'country', 'zone', 'geo_zone',
  'setting', 'store', 'backup', 'upload', 'log', 'notification', 'api', 'filter', 'attribute',
  'option', 'download', 'information', 'dashboard', 'header', 'footer', 'menu', 'search', 'cart',
  'wishlist', 'compare', 'login', 'register', 'forgotten', 'success', 'confirm', 'payment_method',
];
const VENDORS = ['opencart', 'acme', 'webkul', 'ocmod', 'shopify_import', 'mailchimp', 'paypal'];
const COMPOSER = ['twig/twig', 'scssphp/scssphp', 'aws/aws-sdk-php', 'guzzlehttp/guzzle', 'symfony/polyfill-mbstring', 'braintree/braintree_php'];

function camel(s: string): string {
  return s.replace(/(^|_)(\w)/g, (_m, _u: string, c: string) => c.toUpperCase());
}

/** Sizes log-skewed in [lo, hi] KiB: lo·(hi/lo)^(u^p). */
function skewedSize(rng: Rng, loKiB: number, hiKiB: number, p: number): number {
  const u = Math.pow(rng.float(), p);
  return Math.round(loKiB * KIB * Math.pow(hiKiB / loKiB, u));
}

function configPhp(admin: boolean): string {
  const app = admin ? 'Admin' : 'Catalog';
  const lines = [
    '<?php',
    '// APPLICATION',
    `define('APPLICATION', '${app}');`,
    '',
    '// HTTP',
    `define('HTTP_SERVER', 'http://shop.example.test/${admin ? 'admin/' : ''}');`,
    ...(admin ? ["define('HTTP_CATALOG', 'http://shop.example.test/');"] : []),
    '',
    '// DIR',
    "define('DIR_OPENCART', '/var/www/shop/');",
    '',
    '// DB',
    "define('DB_DRIVER', 'mysqli');",
    "define('DB_HOSTNAME', 'localhost');",
    "define('DB_USERNAME', 'shop');",
    "define('DB_PASSWORD', 'bench-not-a-real-password');",
    "define('DB_DATABASE', 'shop');",
    "define('DB_PORT', '3306');",
    "define('DB_PREFIX', 'oc_');",
    '',
  ];
  return lines.join('\n');
}

/** The full file list, decided by the structure PRNG only (no content yet). */
function plan(scale: number, seed: number, withConfig: boolean): Entry[] {
  const rng = new Rng(seed, 1);
  const entries: Entry[] = [];
  const used = new Set<string>();
  const unique = (p: string): string => {
    let candidate = p;
    for (let i = 2; used.has(candidate); i++) candidate = p.replace(/(\.\w+)$/, `_${i}$1`);
    used.add(candidate);
    return candidate;
  };

  const fixed: Array<[string, string]> = [
    ['index.php', "<?php\n// Version\ndefine('VERSION', '4.1.0.5');\n\nrequire_once('config.php');\nrequire_once(DIR_SYSTEM . 'startup.php');\n\nframework('catalog');\n"],
    ['.htaccess', 'Options +FollowSymlinks\nOptions -Indexes\n<FilesMatch "(?i)((\\.tpl|\\.twig|\\.ini|\\.log|(?<!robots)\\.txt))">\n Require all denied\n</FilesMatch>\nRewriteEngine On\nRewriteBase /\nRewriteRule ^sitemap.xml$ index.php?route=extension/feed/google_sitemap [L]\nRewriteCond %{REQUEST_FILENAME} !-f\nRewriteCond %{REQUEST_FILENAME} !-d\nRewriteRule ^([^?]*) index.php?_route_=$1 [L,QSA]\n'],
    ['robots.txt', 'User-agent: *\nDisallow: /admin/\n'],
  ];
  if (withConfig) {
    fixed.push(['config.php', configPhp(false)], ['admin/config.php', configPhp(true)]);
  }
  for (const [path, content] of fixed) entries.push({ kind: 'fixed', path: unique(path), content });

  const textCount = Math.max(1, Math.round(4000 * scale));
  for (let i = 0; i < textCount; i++) {
    const r = rng.float();
    const group = rng.pick(GROUPS);
    const name = rng.pick(NAMES);
    let path: string;
    let text: TextKind;
    if (r < 0.16) { path = `admin/controller/${group}/${name}.php`; text = 'php'; }
    else if (r < 0.26) { path = `admin/model/${group}/${name}.php`; text = 'php'; }
    else if (r < 0.34) { path = `admin/language/${rng.pick(['en-gb', 'de-de', 'fr-fr'])}/${group}/${name}.php`; text = 'lang'; }
    else if (r < 0.44) { path = `admin/view/template/${group}/${name}_${rng.pick(['list', 'form', 'info'])}.twig`; text = 'twig'; }
    else if (r < 0.54) { path = `catalog/controller/${group}/${name}.php`; text = 'php'; }
    else if (r < 0.60) { path = `catalog/model/${group}/${name}.php`; text = 'php'; }
    else if (r < 0.66) { path = `catalog/language/${rng.pick(['en-gb', 'de-de', 'fr-fr'])}/${group}/${name}.php`; text = 'lang'; }
    else if (r < 0.74) { path = `catalog/view/template/${group}/${name}.twig`; text = 'twig'; }
    else if (r < 0.78) { path = `${rng.pick(['admin', 'catalog'])}/view/javascript/${rng.pick(['jquery', 'bootstrap', 'ckeditor', 'common'])}/${name}.js`; text = 'js'; }
    else if (r < 0.81) { path = `${rng.pick(['admin', 'catalog'])}/view/stylesheet/${name}.css`; text = 'css'; }
    else if (r < 0.86) { path = `system/${rng.pick(['engine', 'library', 'library/db', 'library/cache', 'library/session', 'helper'])}/${name}.php`; text = 'php'; }
    else if (r < 0.94) { path = `system/storage/vendor/${rng.pick(COMPOSER)}/src/${camel(group)}/${camel(name)}.php`; text = 'php'; }
    else {
      const vendor = rng.pick(VENDORS);
      const side = rng.pick(['admin', 'catalog']);
      const sub = rng.pick(['controller/module', 'controller/payment', 'model/module', 'language/en-gb/module', 'view/template/module']);
      text = sub.startsWith('view') ? 'twig' : sub.startsWith('language') ? 'lang' : 'php';
      path = `extension/${vendor}/${side}/${sub}/${name}.${text === 'twig' ? 'twig' : 'php'}`;
    }
    const size = skewedSize(rng, 1, 60, 1);
    entries.push({ kind: 'text', path: unique(path), size, text });
  }

  const imageCount = Math.max(1, Math.round(16000 * scale));
  for (let i = 0; i < imageCount; i++) {
    const r = rng.float();
    let folder: string;
    if (r < 0.04) folder = 'image/catalog/banners';
    else if (r < 0.07) folder = `image/catalog/demo/${rng.pick(['brands', 'slider', 'manufacturer'])}`;
    else folder = `image/catalog/${rng.pick(CATEGORIES)}/${rng.pick(ADJ)}-${rng.int(1, 12)}`;
    const f = rng.float();
    const format = f < 0.8 ? 'jpg' : f < 0.95 ? 'png' : 'webp';
    const base = `${rng.pick(CATEGORIES)}-${rng.pick(ADJ)}-${rng.int(1, 99999)}`;
    // 20–500 KiB, exponent 1.3: mean ≈ 127 KiB, so 16k images ≈ 1.94 GiB.
    const size = skewedSize(rng, 20, 500, 1.3);
    entries.push({ kind: 'image', path: unique(`${folder}/${base}.${format}`), size, format });
  }
  return entries;
}

function imageBytes(ks: KeyStream, size: number, format: 'jpg' | 'png' | 'webp'): Buffer {
  const buf = ks.next(size);
  let header: number[];
  if (format === 'jpg') {
    header = [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00];
    buf[size - 2] = 0xff;
    buf[size - 1] = 0xd9;
  } else if (format === 'png') {
    header = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52];
  } else {
    const n = size - 8;
    header = [0x52, 0x49, 0x46, 0x46, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20];
  }
  Buffer.from(header).copy(buf, 0);
  return buf;
}

export function treePath(opts: Pick<GenerateOptions, 'dir' | 'scale' | 'seed' | 'withConfig'>): string {
  return join(opts.dir, `store-s${opts.scale}-seed${opts.seed}${opts.withConfig ? '-config' : ''}`);
}

async function readMarker(path: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

export async function generateStore(opts: GenerateOptions): Promise<StoreInfo> {
  const log = opts.log ?? (() => undefined);
  const started = process.hrtime.bigint();
  const root = treePath(opts);
  const markerPath = `${root}.marker.json`;
  const marker = await readMarker(markerPath);
  const treeExists = await stat(root).then((s) => s.isDirectory(), () => false);
  if (
    treeExists && marker &&
    marker.generatorVersion === GENERATOR_VERSION && marker.seed === opts.seed &&
    marker.scale === opts.scale && marker.withConfig === opts.withConfig
  ) {
    log(`reusing generated tree ${root} (${marker.files} files, ${(marker.bytes / 2 ** 30).toFixed(2)} GiB)`);
    return { root, files: marker.files, bytes: marker.bytes, imageFiles: marker.imageFiles, textFiles: marker.textFiles, reused: true, seconds: 0 };
  }

  await rm(markerPath, { force: true });
  await rm(root, { recursive: true, force: true });
  const partial = `${root}.partial`;
  await rm(partial, { recursive: true, force: true });

  const entries = plan(opts.scale, opts.seed, opts.withConfig);
  log(`generating ${entries.length} files into ${root} ...`);
  const dirs = new Set<string>();
  for (const e of entries) dirs.add(dirname(join(partial, e.path)));
  for (const d of [...dirs].sort()) await mkdir(d, { recursive: true });

  const ks = new KeyStream(opts.seed);
  const text = new TextFactory(new Rng(opts.seed, 2));
  const inflight = new Set<Promise<void>>();
  let bytes = 0;
  let imageFiles = 0;
  let textFiles = 0;
  const writeOne = async (path: string, data: Buffer, mtime: number): Promise<void> => {
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
      await fh.utimes(mtime, mtime);
    } finally {
      await fh.close();
    }
  };

  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === undefined) continue;
    let data: Buffer;
    if (e.kind === 'image') { data = imageBytes(ks, e.size, e.format); imageFiles++; }
    else if (e.kind === 'text') { data = text.make(e.text, e.size); textFiles++; }
    else data = Buffer.from(e.content, 'utf8');
    bytes += data.length;
    const p = writeOne(join(partial, e.path), data, BASE_MTIME + i).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 32) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await rename(partial, root);

  const info: Marker = {
    generatorVersion: GENERATOR_VERSION, seed: opts.seed, scale: opts.scale, withConfig: opts.withConfig,
    files: entries.length, bytes, imageFiles, textFiles,
  };
  await writeFile(markerPath, JSON.stringify(info, null, 2) + '\n');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  log(`generated ${entries.length} files, ${(bytes / 2 ** 30).toFixed(2)} GiB in ${seconds.toFixed(1)} s`);
  return { root, files: entries.length, bytes, imageFiles, textFiles, reused: false, seconds };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const info = await generateStore({
    dir: arg('--dir') ?? process.env['OCVAULT_BENCH_DIR'] ?? '/work/bench-data',
    scale: Number(arg('--scale') ?? process.env['OCVAULT_BENCH_SCALE'] ?? '1'),
    seed: Number(arg('--seed') ?? process.env['OCVAULT_BENCH_SEED'] ?? '1'),
    withConfig: (arg('--config') ?? process.env['OCVAULT_BENCH_CONFIG'] ?? '0') !== '0',
    log: (m) => console.log(m),
  });
  console.log(JSON.stringify(info));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
