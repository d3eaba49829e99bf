import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOcvaultError } from '../../src/errors/OcvaultError.js';
import { configValue, configValueOrUndefined, findDefine, parsePhpConfig, phpSingleQuoted, rewritePhpConfig } from '../../src/opencart/phpConfig.js';
import { versionFromIndex } from '../../src/opencart/storeVersion.js';
import { dbHostnameFor, parseDbHostname, storeDatabaseFromConfig, storeDatabaseUrl } from '../../src/opencart/storeDatabase.js';
import { parseConnectionUrl } from '../../src/sources/mysql/index.js';
import { addslashes } from './storeFixtures.js';

const FILE = '/var/www/shop/config.php';

function values(text: string): Record<string, string | undefined> {
  return Object.fromEntries(parsePhpConfig(text, FILE).defines.map((d) => [d.key, d.value]));
}

function badConfigLine(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(isOcvaultError(e, 'BadConfig'), `expected BadConfig, got ${String(e)}`);
    assert.match((e as Error).message, /config\.php, line \d+/);
    return Number((e as { data: Record<string, unknown> }).data.line);
  }
  assert.fail('expected a BadConfig error');
}

describe('parsePhpConfig', () => {
  test('reads values written with addslashes exactly as PHP does', () => {
    const tricky = ["it's", 'back\\slash', 'both \\\' end', 'dq"inside', 'tail\\', 'percent%40 and @:/?#', 'ünïcødé €', ''];
    for (const v of tricky) {
      const text = `<?php\ndefine('DB_PASSWORD', '${addslashes(v)}');\n`;
      // PHP's single quotes undo \\ and \' only: a \" stays as written
      assert.equal(configValue(parsePhpConfig(text, FILE), 'DB_PASSWORD'), v.replace(/"/g, '\\"'), v);
    }
  });

  test('odd quoting, spacing, comments and constant expressions', () => {
    const text = [
      '<html>define(\'NOT_PHP\', \'x\');</html><?php',
      '# define(\'IN_HASH_COMMENT\', \'x\');',
      '// define(\'IN_LINE_COMMENT\', \'x\');',
      '/* define(\'IN_BLOCK\', \'x\'); */',
      "$s = 'define(\"IN_STRING\", 1);';",
      'DEFINE ( "DQ" , "tab\\there \\x41\\101 \\$x \\u{1F600} \\q" ) ;',
      "\\define('NS', 'ns');",
      "define('A', /* inline */ 'a' . \"b\"   .'c');",
      "if (!defined('DIR_OPENCART')) {",
      "\tdefine('DIR_OPENCART', '/var/www/shop/');",
      '}',
      "define('DIR_SYSTEM', DIR_OPENCART . 'system/');",
      "define('DIR_STORAGE', DIR_SYSTEM . 'storage/');",
      "define('HERE', __DIR__ . '/x/');",
      "define('UP', dirname(__FILE__) . '/');",
      "define('UP2', dirname(__DIR__, 2));",
      'define(\'PORT\', 3306);',
      "define('NEG', -1);",
      "define('FLAG', true);",
      "define('DYN', 'http://' . $_SERVER['HTTP_HOST'] . '/');",
      "define('LATER', NOT_YET . 'x');",
      "$obj->define('METHOD', 'x');",
      "define('CASE', 'x', true);",
      "define('A', 'second definition is ignored by PHP');",
      '?>',
      "<p>define('AFTER_CLOSE', 'x');</p>",
    ].join('\n');
    const cfg = parsePhpConfig(text, FILE);
    const v = values(text);
    for (const k of ['NOT_PHP', 'IN_HASH_COMMENT', 'IN_LINE_COMMENT', 'IN_BLOCK', 'IN_STRING', 'METHOD', 'AFTER_CLOSE']) assert.ok(!(k in v), k);
    assert.equal(v.DQ, 'tab\there AA $x 😀 \\q');
    assert.equal(v.NS, 'ns');
    assert.equal(configValue(cfg, 'A'), 'abc');
    assert.equal(v.DIR_OPENCART, '/var/www/shop/');
    assert.equal(v.DIR_SYSTEM, '/var/www/shop/system/');
    assert.equal(v.DIR_STORAGE, '/var/www/shop/system/storage/');
    assert.equal(v.HERE, '/var/www/shop/x/');
    assert.equal(v.UP, '/var/www/shop/');
    assert.equal(v.UP2, '/var');
    assert.equal(v.PORT, '3306');
    assert.equal(v.NEG, '-1');
    assert.equal(v.FLAG, '1');
    assert.equal(v.CASE, 'x');
    assert.equal(findDefine(cfg, 'DIR_OPENCART')!.literal, true);
    assert.equal(findDefine(cfg, 'DIR_SYSTEM')!.literal, false);
    assert.equal(findDefine(cfg, 'PORT')!.integer, true);
    // computed at run time: no value, and an error naming file and line when asked for
    assert.equal(configValueOrUndefined(cfg, 'DYN'), undefined);
    assert.equal(badConfigLine(() => configValue(cfg, 'DYN')), 20);
    assert.match(findDefine(cfg, 'LATER')!.dynamic!, /NOT_YET/);
  });

  test('a broken define is a BadConfig error naming the file and line', () => {
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\ndefine('A', 'a');\n\ndefine('B', 'unterminated);\ndefine('C', 'c');\n", FILE)), 4);
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\ndefine('A', 'a');\ndefine('B' 'b');\n", FILE)), 3);
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\n\n\ndefine('A', 'a';\ndefine('B', 'b');\n", FILE)), 4);
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\ndefine('A', 'a');\ndefine(A, 'b');\n", FILE)), 3);
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\ndefine('A', );\n", FILE)), 2);
    assert.equal(badConfigLine(() => parsePhpConfig("<?php\n/* never closed\ndefine('A', 'a');\n", FILE)), 2);
    assert.equal(badConfigLine(() => parsePhpConfig('<?php\ndefine("A", "open\n', FILE)), 2);
  });

  test('VERSION from index.php, even when the rest of the file is code', () => {
    assert.equal(versionFromIndex("<?php\n// Version\ndefine('VERSION', '4.1.0.5');\nrequire_once('config.php');\n", '/x/index.php'), '4.1.0.5');
    assert.equal(versionFromIndex("<?php\ndefine('VERSION', '1.5.6.4');\n$x = \"unterminated", '/x/index.php'), '1.5.6.4');
    assert.equal(versionFromIndex('<?php\necho 1;\n', '/x/index.php'), undefined);
  });
});

describe('rewritePhpConfig', () => {
  const original = [
    '<?php',
    '// HTTP',
    "define('HTTP_SERVER', 'http://shop.example.com/'); // the shop",
    '',
    '/* database */',
    "define('DB_HOSTNAME',   'localhost');",
    "define('DB_PASSWORD', 'old\\'pw');",
    "define('DB_PORT', 3306);",
    "if (!defined('DB_PREFIX')) { define('DB_PREFIX', 'oc_'); }",
    "define('DIR_SYSTEM', DIR_OPENCART . 'system/');",
    '',
  ].join('\r\n');

  test('replaces only the given values and keeps every other byte', () => {
    const pw = `n3w'p\\w"d$x`;
    const out = rewritePhpConfig(original, FILE, { DB_PASSWORD: pw, DB_PORT: '3307', HTTP_SERVER: 'https://staging.example.com/' });
    const cfg = parsePhpConfig(out, FILE);
    assert.equal(configValue(cfg, 'DB_PASSWORD'), pw);
    assert.equal(configValue(cfg, 'DB_PORT'), '3307');
    assert.equal(findDefine(cfg, 'DB_PORT')!.integer, true);
    assert.equal(configValue(cfg, 'HTTP_SERVER'), 'https://staging.example.com/');
    assert.equal(configValue(cfg, 'DB_HOSTNAME'), 'localhost');
    const expected = original
      .replace("'old\\'pw'", phpSingleQuoted(pw))
      .replace("'DB_PORT', 3306", "'DB_PORT', 3307")
      .replace('http://shop.example.com/', 'https://staging.example.com/');
    assert.equal(out, expected);
    assert.equal(phpSingleQuoted(pw), `'n3w\\'p\\\\w"d$x'`);
  });

  test('appends missing keys only when asked', () => {
    assert.throws(() => rewritePhpConfig(original, FILE, { DB_SSL_KEY: 'x' }), (e: unknown) => isOcvaultError(e, 'BadConfig'));
    const out = rewritePhpConfig(original, FILE, { DB_SSL_KEY: "k'ey" }, { appendMissing: true });
    assert.equal(configValue(parsePhpConfig(out, FILE), 'DB_SSL_KEY'), "k'ey");
    assert.ok(out.startsWith(original.trimEnd()));
  });
});

describe('database settings of a config', () => {
  test('DB_HOSTNAME forms', () => {
    assert.deepEqual(parseDbHostname('localhost'), { host: 'localhost', persistent: false });
    assert.deepEqual(parseDbHostname('p:db.internal:3307'), { host: 'db.internal', port: 3307, persistent: true });
    assert.deepEqual(parseDbHostname('localhost:/var/run/mysqld/mysqld.sock'), { host: 'localhost', socket: '/var/run/mysqld/mysqld.sock', persistent: false });
    assert.deepEqual(parseDbHostname('/tmp/mysql.sock'), { host: 'localhost', socket: '/tmp/mysql.sock', persistent: false });
    assert.deepEqual(parseDbHostname('[::1]:3310'), { host: '::1', port: 3310, persistent: false });
  });

  test('the source URL percent-encodes the password and round-trips', () => {
    const password = "p@ss:w/o'r\\d?#% ü";
    const text = `<?php\ndefine('DB_HOSTNAME', 'p:127.0.0.1');\ndefine('DB_USERNAME', 'shop user');\ndefine('DB_PASSWORD', '${addslashes(password).replace(/\\"/g, '"')}');\ndefine('DB_DATABASE', 'shop_db');\ndefine('DB_PORT', '3310');\ndefine('DB_PREFIX', 'oc_');\n`;
    const db = storeDatabaseFromConfig(parsePhpConfig(text, FILE), []);
    assert.equal(db.password, password);
    assert.equal(db.port, 3310);
    assert.equal(db.persistent, true);
    const t = parseConnectionUrl(storeDatabaseUrl(db));
    assert.deepEqual({ user: t.user, password: t.password, host: t.host, port: t.port, database: t.database }, { user: 'shop user', password, host: '127.0.0.1', port: 3310, database: 'shop_db' });
    const sock = storeDatabaseFromConfig(parsePhpConfig("<?php\ndefine('DB_HOSTNAME', 'localhost:/run/x.sock');\ndefine('DB_USERNAME', 'u');\ndefine('DB_PASSWORD', '');\ndefine('DB_DATABASE', 'd');\n", FILE), []);
    assert.equal(parseConnectionUrl(storeDatabaseUrl(sock)).socket, '/run/x.sock');
    assert.equal(storeDatabaseUrl(db).includes(password), false);
  });

  test('writing a connection back into a config', () => {
    assert.deepEqual(dbHostnameFor({ host: '10.0.0.5', port: 3307 }, { hasPortDefine: true, persistent: false }), { DB_HOSTNAME: '10.0.0.5', DB_PORT: '3307' });
    assert.deepEqual(dbHostnameFor({ host: '10.0.0.5', port: 3307 }, { hasPortDefine: false, persistent: true }), { DB_HOSTNAME: 'p:10.0.0.5:3307' });
    assert.deepEqual(dbHostnameFor({ host: 'localhost', port: 3306, socket: '/s.sock' }, { hasPortDefine: false, persistent: false }), { DB_HOSTNAME: 'localhost:/s.sock' });
  });
});
