/**
 * Synthetic OpenCart store trees with the config layout of each version, written the way
 * OpenCart's installer writes them (DB values through PHP addslashes).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export type FixtureVersion = '1.5' | '2.3' | '3.0' | '4.x';

export interface StoreSpec {
  version: FixtureVersion;
  root: string;
  /** 3.0 / 4.x: DIR_STORAGE moved here (absolute), outside the root */
  storage?: string;
  /** the admin folder's name (default `admin`) */
  admin?: string;
  url: string;
  db: { hostname: string; port?: string; user: string; password: string; database: string; prefix: string };
}

/** PHP's addslashes: a backslash before ', ", \ and NUL. */
export function addslashes(s: string): string {
  return s.replace(/([\\'"])/g, '\\$1').replace(/\0/g, '\\0');
}

const q = (s: string): string => `'${addslashes(s)}'`;

export const VERSION_OF: Record<FixtureVersion, string> = { '1.5': '1.5.6.4', '2.3': '2.3.0.2', '3.0': '3.0.3.8', '4.x': '4.1.0.5' };

function dbLines(spec: StoreSpec, withPort: boolean, driver: string): string {
  const d = spec.db;
  return [
    '// DB',
    `define('DB_DRIVER', '${driver}');`,
    `define('DB_HOSTNAME', ${q(d.hostname)});`,
    `define('DB_USERNAME', ${q(d.user)});`,
    `define('DB_PASSWORD', ${q(d.password)});`,
    `define('DB_DATABASE', ${q(d.database)});`,
    ...(withPort ? [`define('DB_PORT', ${q(d.port ?? '3306')});`] : []),
    `define('DB_PREFIX', ${q(d.prefix)});`,
  ].join('\n');
}

/** config.php and admin config.php for a version. */
export function configFiles(spec: StoreSpec): { catalog: string; admin: string } {
  const r = spec.root.replace(/\/?$/, '/');
  const u = spec.url;
  const adminDir = spec.admin ?? 'admin';
  const st = spec.storage ? spec.storage.replace(/\/?$/, '/') : undefined;
  switch (spec.version) {
    case '1.5': {
      const dirs = (app: string): string => [
        `define('DIR_APPLICATION', '${r}${app}/');`,
        `define('DIR_SYSTEM', '${r}system/');`,
        `define('DIR_DATABASE', '${r}system/database/');`,
        `define('DIR_LANGUAGE', '${r}${app}/language/');`,
        `define('DIR_TEMPLATE', '${r}${app}/view/template/');`,
        `define('DIR_CONFIG', '${r}system/config/');`,
        `define('DIR_IMAGE', '${r}image/');`,
        `define('DIR_CACHE', '${r}system/cache/');`,
        `define('DIR_DOWNLOAD', '${r}download/');`,
        `define('DIR_LOGS', '${r}system/logs/');`,
      ].join('\n');
      return {
        catalog: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}');\ndefine('HTTP_IMAGE', '${u}image/');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}');\ndefine('HTTPS_IMAGE', '${u}image/');\n\n// DIR\n${dirs('catalog')}\n\n${dbLines(spec, false, 'mysql')}\n?>`,
        admin: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}${adminDir}/');\ndefine('HTTP_CATALOG', '${u}');\ndefine('HTTP_IMAGE', '${u}image/');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}${adminDir}/');\ndefine('HTTPS_CATALOG', '${u}');\ndefine('HTTPS_IMAGE', '${u}image/');\n\n// DIR\n${dirs(adminDir)}\ndefine('DIR_CATALOG', '${r}catalog/');\n\n${dbLines(spec, false, 'mysql')}\n?>`,
      };
    }
    case '2.3': {
      const dirs = (app: string): string => [
        `define('DIR_APPLICATION', '${r}${app}/');`,
        `define('DIR_SYSTEM', '${r}system/');`,
        `define('DIR_IMAGE', '${r}image/');`,
        `define('DIR_LANGUAGE', '${r}${app}/language/');`,
        `define('DIR_TEMPLATE', '${r}${app}/view/theme/');`,
        `define('DIR_CONFIG', '${r}system/config/');`,
        `define('DIR_CACHE', '${r}system/storage/cache/');`,
        `define('DIR_DOWNLOAD', '${r}system/storage/download/');`,
        `define('DIR_LOGS', '${r}system/storage/logs/');`,
        `define('DIR_MODIFICATION', '${r}system/storage/modification/');`,
        `define('DIR_UPLOAD', '${r}system/storage/upload/');`,
      ].join('\n');
      return {
        catalog: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}');\n\n// DIR\n${dirs('catalog')}\n\n${dbLines(spec, true, 'mysqli')}\n`,
        admin: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}${adminDir}/');\ndefine('HTTP_CATALOG', '${u}');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}${adminDir}/');\ndefine('HTTPS_CATALOG', '${u}');\n\n// DIR\n${dirs(adminDir)}\ndefine('DIR_CATALOG', '${r}catalog/');\n\n${dbLines(spec, true, 'mysqli')}\n`,
      };
    }
    case '3.0': {
      const storage = st ?? `${r}system/storage/`;
      const dirs = (app: string): string => [
        `define('DIR_APPLICATION', '${r}${app}/');`,
        `define('DIR_SYSTEM', '${r}system/');`,
        `define('DIR_IMAGE', '${r}image/');`,
        `define('DIR_STORAGE', '${storage}');`,
        `define('DIR_LANGUAGE', DIR_APPLICATION . 'language/');`,
        `define('DIR_TEMPLATE', DIR_APPLICATION . 'view/theme/');`,
        `define('DIR_CONFIG', DIR_SYSTEM . 'config/');`,
        `define('DIR_CACHE', DIR_STORAGE . 'cache/');`,
        `define('DIR_DOWNLOAD', DIR_STORAGE . 'download/');`,
        `define('DIR_LOGS', DIR_STORAGE . 'logs/');`,
        `define('DIR_MODIFICATION', DIR_STORAGE . 'modification/');`,
        `define('DIR_SESSION', DIR_STORAGE . 'session/');`,
        `define('DIR_UPLOAD', DIR_STORAGE . 'upload/');`,
      ].join('\n');
      return {
        catalog: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}');\n\n// DIR\n${dirs('catalog')}\n\n${dbLines(spec, true, 'mysqli')}\n\n// OpenCart API\ndefine('OPENCART_SERVER', 'https://www.opencart.com/');\n`,
        admin: `<?php\n// HTTP\ndefine('HTTP_SERVER', '${u}${adminDir}/');\ndefine('HTTP_CATALOG', '${u}');\n\n// HTTPS\ndefine('HTTPS_SERVER', '${u}${adminDir}/');\ndefine('HTTPS_CATALOG', '${u}');\n\n// DIR\n${dirs(adminDir).replace(`define('DIR_LANGUAGE'`, `define('DIR_CATALOG', '${r}catalog/');\ndefine('DIR_LANGUAGE'`)}\n\n${dbLines(spec, true, 'mysqli')}\n\n// OpenCart API\ndefine('OPENCART_SERVER', 'https://www.opencart.com/');\n`,
      };
    }
    case '4.x': {
      const storage = st ? `'${st}'` : `DIR_SYSTEM . 'storage/'`;
      const dirs = (app: string): string => [
        `define('DIR_OPENCART', '${r}');`,
        `define('DIR_APPLICATION', DIR_OPENCART . '${app}/');`,
        `define('DIR_EXTENSION', DIR_OPENCART . 'extension/');`,
        `define('DIR_IMAGE', DIR_OPENCART . 'image/');`,
        `define('DIR_SYSTEM', DIR_OPENCART . 'system/');`,
        `define('DIR_STORAGE', ${storage});`,
        `define('DIR_LANGUAGE', DIR_APPLICATION . 'language/');`,
        `define('DIR_TEMPLATE', DIR_APPLICATION . 'view/template/');`,
        `define('DIR_CONFIG', DIR_SYSTEM . 'config/');`,
        `define('DIR_CACHE', DIR_STORAGE . 'cache/');`,
        `define('DIR_DOWNLOAD', DIR_STORAGE . 'download/');`,
        `define('DIR_LOGS', DIR_STORAGE . 'logs/');`,
        `define('DIR_SESSION', DIR_STORAGE . 'session/');`,
        `define('DIR_UPLOAD', DIR_STORAGE . 'upload/');`,
      ].join('\n');
      const db = `${dbLines(spec, true, 'mysqli')}\ndefine('DB_SSL_KEY', '');\ndefine('DB_SSL_CERT', '');\ndefine('DB_SSL_CA', '');`;
      return {
        catalog: `<?php\n// APPLICATION\ndefine('APPLICATION', 'Catalog');\n\n// HTTP\ndefine('HTTP_SERVER', '${u}');\n\n// DIR\n${dirs('catalog')}\n\n${db}\n`,
        admin: `<?php\n// APPLICATION\ndefine('APPLICATION', 'Admin');\n\n// HTTP\ndefine('HTTP_SERVER', '${u}${adminDir}/');\ndefine('HTTP_CATALOG', '${u}');\n\n// DIR\n${dirs(adminDir).replace(`define('DIR_LANGUAGE'`, `define('DIR_CATALOG', DIR_OPENCART . 'catalog/');\ndefine('DIR_LANGUAGE'`)}\n\n${db}\n\n// OpenCart API\ndefine('OPENCART_SERVER', 'https://www.opencart.com/');\n`,
      };
    }
  }
}

async function put(file: string, content: string | Buffer): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, content);
}

/** The folders (absolute) whose contents a store backup leaves out by default. */
export function volatileDirs(spec: StoreSpec): string[] {
  const storage = spec.storage ?? path.join(spec.root, 'system', 'storage');
  const image = path.join(spec.root, 'image', 'cache');
  switch (spec.version) {
    case '1.5':
      return [path.join(spec.root, 'system/cache'), path.join(spec.root, 'system/logs'), image];
    case '2.3':
      return [path.join(storage, 'cache'), path.join(storage, 'logs'), image];
    default:
      return [path.join(storage, 'cache'), path.join(storage, 'logs'), path.join(storage, 'session'), image];
  }
}

/** Files the fixture puts into those folders. */
export function volatileFiles(spec: StoreSpec): string[] {
  const storage = spec.storage ?? path.join(spec.root, 'system', 'storage');
  switch (spec.version) {
    case '1.5':
      return [path.join(spec.root, 'system/cache/cache.product.123'), path.join(spec.root, 'system/logs/error.txt'), path.join(spec.root, 'image/cache/data/demo-100x100.jpg')];
    case '2.3':
      return [path.join(storage, 'cache/cache.product.123'), path.join(storage, 'logs/error.log'), path.join(spec.root, 'image/cache/catalog/demo-100x100.jpg')];
    default:
      return [path.join(storage, 'cache/cache.product.123'), path.join(storage, 'logs/error.log'), path.join(storage, 'session/sess_abc'), path.join(spec.root, 'image/cache/catalog/demo-100x100.jpg')];
  }
}

/** Writes a store tree: configs, index.php, some code, images, downloads, caches, logs, sessions. */
export async function writeStore(spec: StoreSpec): Promise<void> {
  const { catalog, admin } = configFiles(spec);
  const adminDir = spec.admin ?? 'admin';
  const r = spec.root;
  await put(path.join(r, 'config.php'), catalog);
  await put(path.join(r, adminDir, 'config.php'), admin);
  await put(path.join(r, 'index.php'), `<?php\n// Version\ndefine('VERSION', '${VERSION_OF[spec.version]}');\n\n// Configuration\nif (is_file('config.php')) {\n\trequire_once('config.php');\n}\n\n// Install\nif (!defined('DIR_APPLICATION')) {\n\theader('Location: install/index.php');\n\texit;\n}\n`);
  await put(path.join(r, adminDir, 'index.php'), `<?php\ndefine('VERSION', '${VERSION_OF[spec.version]}');\nrequire_once('config.php');\n`);
  await put(path.join(r, '.htaccess'), 'RewriteEngine On\n');
  await put(path.join(r, 'catalog/controller/common/home.php'), '<?php\nclass ControllerCommonHome extends Controller {}\n');
  await put(path.join(r, adminDir, 'controller/common/dashboard.php'), '<?php\nclass ControllerCommonDashboard extends Controller {}\n');
  await put(path.join(r, 'system/startup.php'), '<?php\n// startup\n');
  const images = spec.version === '1.5' ? 'image/data' : 'image/catalog';
  await put(path.join(r, images, 'demo.jpg'), randomBytes(40_000));
  await put(path.join(r, images, 'logo.png'), randomBytes(3_000));
  if (spec.version === '4.x') await put(path.join(r, 'extension/opencart/admin/controller/module/x.php'), '<?php\n');
  const storage = spec.storage ?? (spec.version === '1.5' ? undefined : path.join(r, 'system', 'storage'));
  if (storage) {
    await put(path.join(storage, 'download/manual.pdf.abc123'), randomBytes(5_000));
    await put(path.join(storage, 'upload/file.txt.def456'), 'uploaded\n');
    await put(path.join(storage, 'cache/index.html'), '');
    if (spec.version === '4.x') await put(path.join(storage, 'vendor/autoload.php'), '<?php\n');
  } else {
    await put(path.join(r, 'download/manual.pdf.abc123'), randomBytes(5_000));
  }
  for (const f of volatileFiles(spec)) await put(f, randomBytes(200));
}
