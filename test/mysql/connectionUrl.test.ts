import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOcvaultError } from '../../src/errors/OcvaultError.js';
import { describeTarget, formatConnectionUrl, parseConnectionUrl, redactConnectionUrl } from '../../src/sources/mysql/connectionUrl.js';
import { stripDefiner } from '../../src/sources/mysql/definer.js';

test('parses user, percent-decoded password, host, port and database', () => {
  const t = parseConnectionUrl('mysql://shop%40x:p%40ss%3Aw%2Frd@db.example.com:3307/my%20shop');
  assert.deepEqual(t, { user: 'shop@x', password: 'p@ss:w/rd', host: 'db.example.com', port: 3307, socket: undefined, database: 'my shop' });
  assert.deepEqual(parseConnectionUrl(formatConnectionUrl(t)), t);
});

test('defaults the port, takes ?socket=, IPv6 hosts and mariadb://', () => {
  assert.equal(parseConnectionUrl('mysql://u:p@localhost/db').port, 3306);
  const s = parseConnectionUrl('mysql://root@/shop?socket=%2Frun%2Fmysqld%2Fmysqld.sock');
  assert.equal(s.socket, '/run/mysqld/mysqld.sock');
  assert.equal(s.password, '');
  assert.deepEqual(parseConnectionUrl(formatConnectionUrl(s)), s);
  assert.equal(parseConnectionUrl('mariadb://u:p@[::1]:3310/db').host, '::1');
  assert.equal(describeTarget(s), 'database "shop" on socket /run/mysqld/mysqld.sock');
});

test('bad URLs are Usage errors that never show the password', () => {
  for (const url of ['postgres://u:secret@h/db', 'mysql://u:secret@h:99999/db', 'mysql://u:secret@h', 'mysql://u:secret@h/db?sslmode=1', 'mysql://:secret@h/db']) {
    assert.throws(() => parseConnectionUrl(url), (e) => isOcvaultError(e, 'Usage') && !e.message.includes('secret'), url);
  }
  assert.equal(redactConnectionUrl(parseConnectionUrl('mysql://u:secret@h/db')), 'mysql://u:***@h/db');
});

test('stripDefiner removes only the DEFINER clause', () => {
  assert.equal(stripDefiner('CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1'), 'CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1');
  assert.equal(stripDefiner("CREATE DEFINER='a b'@'%' TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1"), 'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1');
  assert.equal(stripDefiner('CREATE DEFINER=CURRENT_USER PROCEDURE p() SELECT 1'), 'CREATE PROCEDURE p() SELECT 1');
});
