/**
 * Issue 8, part C: hostile input through the real CLI. Names no shell should see (newlines,
 * bytes that are not UTF-8, 255 bytes, deep paths), symlink loops and links out of the target,
 * targets with planted links, damaged snapshots with names like '..', and FIFOs, devices and
 * sockets. Backup and restore must keep the exact bytes, never follow a link, never write
 * outside --target, and refuse a damaged tree with one clear line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync, chmodSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { NOBODY, TestRepo, expectCode, isRoot, oneLine, parseJson, type BackupResult } from '../helpers/cli.js';
import { assertSameBytes, byteTree, node, OutsideGuard, writeDamagedSnapshot } from './hostileHelpers.js';
import type { TreeNode } from '../../src/repo/tree.js';

let t: TestRepo;
before(async () => {
  t = await TestRepo.create();
});
after(async () => {
  await t?.cleanup();
});

const b = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const join = (...parts: Buffer[]): Buffer => Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('/'), p] : [p])));
let counter = 0;
/** A fresh, empty scratch directory. */
function fresh(name: string): string {
  const dir = t.path(`${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Names a backup meets in the wild and in attacks; each must come back byte for byte. */
function hostileNames(): Buffer[] {
  return [
    b('new\nline'),
    b('\nleading-newline'),
    b('tab\there'),
    b('cr\rhere'),
    b('esc\x1b[31mred'),
    b('back\\slash'),
    b('-rf'),
    b('--help'),
    b('-'),
    b(' leading and trailing space '),
    b('"quoted"'),
    b('x'.repeat(255)),
    b('é'.repeat(127) + 'x'), // 255 bytes of UTF-8
    b('caf', [0xe9]), // latin-1 é: not UTF-8
    b('f', [0xff, 0xfe]),
    b([0x80]),
    b([0xc0, 0xaf]), // overlong '/'
    b([0xed, 0xa0, 0x80]), // a UTF-16 surrogate in UTF-8
    b('aaaaaaaa', [0xff]), // these two share the readable stand-in of the first 8 bytes
    b('aaaaaaaa', [0xfe]),
    b([0xc3, 0x28]), // its base64 is 'wyg=', which is also a real name here
    b('wyg='),
    b('f??~66fffe'), // the stand-in text of f\xff\xfe, as a real name
    b([0xff].concat(Array(254).fill(0x61))), // 255 bytes, not UTF-8
  ];
}

function makeHostileTree(root: string): void {
  const r = Buffer.from(root);
  let i = 0;
  for (const name of hostileNames()) {
    writeFileSync(join(r, name), `content ${i++} of ${name.toString('hex')}\n`);
  }
  // directories with such names, holding files with such names
  const badDir = join(r, b('dir', [0xff]));
  mkdirSync(badDir);
  writeFileSync(join(badDir, b('in\nside', [0xfe])), 'inside a non-UTF-8 dir\n');
  const nlDir = join(r, b('dir\nwith newline'));
  mkdirSync(nlDir);
  writeFileSync(join(nlDir, b('-n')), 'dash\n');
  // link targets that are not UTF-8, or hold newlines
  symlinkSync(b('t', [0xff, 0x00 + 0x41]), join(r, b('link-bad-target')));
  symlinkSync(b('target\nwith newline'), join(r, b('link\nnewline')));
  symlinkSync(b('f', [0xff, 0xfe]), join(r, b('link-to-bad', [0xfe])));
  // a deep path: 30 levels of 100-byte names (about 3 KB, under PATH_MAX)
  let deep = join(r, b('deep'));
  mkdirSync(deep);
  for (let d = 0; d < 30; d++) {
    deep = join(deep, b(`${String(d).padStart(2, '0')}`, 'd'.repeat(98)));
    mkdirSync(deep);
  }
  writeFileSync(join(deep, b('bottom', [0xff])), 'at the bottom\n');
}

test('names with newlines, escapes, dashes, 255 bytes, deep paths and bytes that are not UTF-8 round-trip exactly', async () => {
  const src = fresh('names-src');
  makeHostileTree(src);
  const expected = byteTree(src);
  assert.ok(expected.size > 60, `the fixture holds ${expected.size} entries`);

  const first = await t.backup([src]);
  assert.deepEqual(first.warnings, [], 'every name can be stored');
  const target = t.path('names-restored');
  await t.restore(first.id, target);
  assertSameBytes(expected, byteTree(target), 'restored tree');

  // an incremental backup must match every name to its parent node, byte for byte: names whose
  // stand-ins or base64 collide must not be taken for each other
  const second = await t.backup([src]);
  assert.equal(second.stats.changedFiles, 0, `no file changed, got ${JSON.stringify(second.stats)}`);
  assert.equal(second.stats.newFiles, 0);
  assert.equal(second.stats.unchangedFiles, first.stats.files);
  const target2 = t.path('names-restored-2');
  await t.restore(second.id, target2);
  assertSameBytes(expected, byteTree(target2), 'restored tree of the incremental');

  // the restore drill compares names, link targets and content byte for byte too
  expectCode(await t.run(['check', '--restore', first.id]), 0);

  // restoring into a target that already holds the tree changes nothing
  await t.restore(first.id, target);
  assertSameBytes(expected, byteTree(target), 'tree restored twice');
});

test('ls, diff and snapshots print one line per entry; --json carries the raw bytes', async () => {
  const parent = fresh('out');
  const src = path.join(parent, 'src\nwith newline');
  mkdirSync(src);
  writeFileSync(path.join(src, 'plain.txt'), 'plain\n');
  writeFileSync(path.join(src, 'new\nline'), 'one\n');
  writeFileSync(b(src, '/', 'f', [0xff]), 'not utf-8\n');
  symlinkSync('a\nb', path.join(src, 'link'));
  const s1 = await t.backup([src]);
  writeFileSync(path.join(src, 'new\nline'), 'two, longer\n');
  writeFileSync(path.join(src, 'added\nfile'), 'added\n');
  writeFileSync(b(src, '/', 'g', [0xfe]), 'added, not utf-8\n');
  const s2 = await t.backup([src]);

  const json = await t.json<{ path: string; type: string; pathRaw?: string; target?: string; targetRaw?: string }[]>(['ls', s1.id, '--json']);
  assert.equal(json.length, 4);
  assert.ok(json.some((e) => e.path === 'new\nline'), 'JSON keeps the newline (escaped by JSON)');
  const raw = json.find((e) => e.pathRaw !== undefined);
  assert.ok(raw, 'the name that is not UTF-8 carries pathRaw');
  assert.deepEqual(Buffer.from(raw.pathRaw!, 'base64'), b('f', [0xff]));

  const text = expectCode(await t.run(['ls', s1.id]), 0).stdout.trimEnd().split('\n');
  assert.equal(text.length, json.length, `one line per entry:\n${text.join('\n')}`);
  assert.ok(text.some((l) => l.endsWith(' "new\\nline"')), `the newline is escaped:\n${text.join('\n')}`);
  assert.ok(text.some((l) => l.endsWith(' "f\\xff"')), `the raw byte is shown escaped:\n${text.join('\n')}`);
  assert.ok(text.some((l) => l.endsWith(' link -> "a\\nb"')), `the link target is escaped:\n${text.join('\n')}`);
  assert.ok(text.some((l) => l.endsWith(' plain.txt')), 'ordinary names print as they are');

  const diff = expectCode(await t.run(['diff', s1.id, s2.id]), 0).stdout.trimEnd().split('\n');
  const changes = diff.filter((l) => /^ {2}[+\-M] /.test(l));
  assert.equal(changes.length, 3, `three changes, one line each:\n${diff.join('\n')}`);
  assert.equal(diff.length, 2 + changes.length, `no stray lines:\n${diff.join('\n')}`);
  assert.ok(diff.includes('  M "new\\nline"  (4 B → 12 B)'), diff.join('\n'));
  assert.ok(diff.some((l) => l.startsWith('  + "added\\nfile"')), diff.join('\n'));
  const diffJson = await t.json<{ files: { changes: { path: string; change: string }[] } }>(['diff', s1.id, s2.id, '--json']);
  assert.equal(diffJson.files.changes.length, 3);

  const snaps = expectCode(await t.run(['snapshots']), 0).stdout.trimEnd().split('\n');
  const all = await t.snapshots();
  assert.equal(snaps.length, all.length + 2, `header, one line per snapshot, total:\n${snaps.join('\n')}`);
  assert.ok(snaps.some((l) => l.includes('"') && l.includes('src\\nwith newline')), snaps.join('\n'));
});

test('symlink loops and links to parents are stored as links, never followed', async () => {
  const src = fresh('loops-src');
  symlinkSync('b', path.join(src, 'a'));
  symlinkSync('a', path.join(src, 'b'));
  symlinkSync('self', path.join(src, 'self'));
  mkdirSync(path.join(src, 'sub/deeper'), { recursive: true });
  symlinkSync('..', path.join(src, 'sub/up'));
  symlinkSync('../..', path.join(src, 'sub/deeper/up2'));
  symlinkSync('.', path.join(src, 'sub/here'));
  symlinkSync(src, path.join(src, 'sub/absolute-root'));
  writeFileSync(path.join(src, 'sub/deeper/file'), 'x\n');
  const expected = byteTree(src);

  const r = await t.run(['backup', src, '--json'], { timeoutMs: 60_000 });
  assert.equal(r.timedOut, false, 'backup must not loop');
  const res = parseJson<BackupResult>(expectCode(r, 0));
  assert.equal(res.stats.files, 1, 'only the one real file is read');
  const ls = await t.ls(res.id);
  assert.equal(ls.length, expected.size, 'no entry below a link');
  for (const name of ['a', 'b', 'self', 'sub/up', 'sub/deeper/up2', 'sub/here', 'sub/absolute-root']) {
    assert.equal(ls.find((e) => e.path === name)?.type, 'symlink', `${name} is a link`);
  }
  const target = t.path('loops-restored');
  const rr = await t.run(['restore', res.id, '--target', target], { timeoutMs: 60_000 });
  expectCode(rr, 0);
  assertSameBytes(expected, byteTree(target), 'restored loops');
});

test('a self-check: the outside guard notices a write through a planted link', () => {
  const outside = fresh('guard-outside');
  writeFileSync(path.join(outside, 'victim'), 'original\n');
  const guard = new OutsideGuard(outside);
  const scratch = fresh('guard-scratch');
  symlinkSync(path.join(outside, 'victim'), path.join(scratch, 'link'));
  writeFileSync(path.join(scratch, 'link'), 'overwritten\n'); // follows the link, as a naive restore would
  assert.throws(() => guard.assertUntouched('self-check'), /victim/);
  const guard2 = new OutsideGuard(outside);
  writeFileSync(path.join(outside, 'new'), 'x');
  assert.throws(() => guard2.assertUntouched('self-check'), /unexpected "new"/);
});

test('links out of the target are restored as links; a directory replaced by a link, and links planted in the target, never lead a restore outside', async () => {
  const outside = fresh('escape-outside');
  writeFileSync(path.join(outside, 'victim'), 'must stay\n');
  mkdirSync(path.join(outside, 'dir'));
  const guard = new OutsideGuard(outside);

  // snapshot A: 'dir' is a link to outside; links to /etc/passwd and ../../x
  const srcA = fresh('escape-a');
  symlinkSync(path.join(outside, 'dir'), path.join(srcA, 'dir'));
  symlinkSync('/etc/passwd', path.join(srcA, 'passwd'));
  symlinkSync('../../x', path.join(srcA, 'rel'));
  symlinkSync(path.join(outside, 'victim'), path.join(srcA, 'file.txt'));
  const a = await t.backup([srcA]);
  // snapshot B, same base name: 'dir' is a real directory, file.txt a real file
  const srcB = fresh('escape-b');
  mkdirSync(path.join(srcB, 'dir/sub'), { recursive: true });
  writeFileSync(path.join(srcB, 'dir/file'), 'inside dir\n');
  writeFileSync(path.join(srcB, 'dir/sub/deep'), 'inside dir/sub\n');
  writeFileSync(path.join(srcB, 'file.txt'), 'a real file\n');
  mkdirSync(path.join(srcB, 'passwd'));
  writeFileSync(path.join(srcB, 'passwd/x'), 'was a link\n');
  writeFileSync(path.join(srcB, 'rel'), 'was a link up and out\n');
  const bSnap = await t.backup([srcB]);

  const target = t.path('escape-target');
  await t.restore(a.id, target);
  assert.equal(readlinkSync(path.join(target, 'passwd')), '/etc/passwd');
  assert.equal(readlinkSync(path.join(target, 'rel')), '../../x');
  assert.equal(readlinkSync(path.join(target, 'dir')), path.join(outside, 'dir'));
  guard.assertUntouched('after restoring A');
  // B over A: every link of A stands where B has a directory or a file
  await t.restore(bSnap.id, target);
  guard.assertUntouched('after restoring B over A');
  assertSameBytes(byteTree(srcB), byteTree(target), 'B restored over A');
  // and back: A over B, then B again
  await t.restore(a.id, target);
  guard.assertUntouched('after restoring A over B');
  assert.ok(lstatSync(path.join(target, 'dir')).isSymbolicLink());
  await t.restore(bSnap.id, target);
  guard.assertUntouched('after restoring B again');
  assertSameBytes(byteTree(srcB), byteTree(target), 'B restored over A over B');

  // a target with links planted where B puts a directory, a file, and a file inside a directory
  const planted = fresh('escape-planted');
  symlinkSync(path.join(outside, 'dir'), path.join(planted, 'dir'));
  symlinkSync(path.join(outside, 'victim'), path.join(planted, 'file.txt'));
  symlinkSync(outside, path.join(planted, 'passwd'));
  await t.restore(bSnap.id, planted);
  guard.assertUntouched('after restoring into a target with planted links');
  assertSameBytes(byteTree(srcB), byteTree(planted), 'B restored over planted links');

  // planted below a restored directory too, with --include selecting only that file
  const planted2 = fresh('escape-planted-include');
  mkdirSync(path.join(planted2, 'dir'));
  symlinkSync(path.join(outside, 'victim'), path.join(planted2, 'dir/file'));
  symlinkSync(path.join(outside, 'dir'), path.join(planted2, 'dir/sub'));
  await t.restore(bSnap.id, planted2, ['--include', 'dir/sub/deep', '--include', 'dir/file']);
  guard.assertUntouched('after an --include restore over planted links');
  assert.equal(readFileSync(path.join(planted2, 'dir/sub/deep'), 'utf8'), 'inside dir/sub\n');
  assert.equal(readFileSync(path.join(planted2, 'dir/file'), 'utf8'), 'inside dir\n');
});

/** A hostile entry, how it is written into the tree, and the text the error must show. */
interface HostileCase {
  label: string;
  nodes: (file: { id: string; size: number }, sub: string) => TreeNode[];
  shows: RegExp;
}

const raw = (bytes: Buffer): string => bytes.toString('base64');

const HOSTILE_CASES: HostileCase[] = [
  { label: '".." as a directory name', nodes: (_f, sub) => [node('..', 'dir', { subtree: sub })], shows: /"\.\."/ },
  { label: '"." as a directory name', nodes: (_f, sub) => [node('.', 'dir', { subtree: sub })], shows: /"\."/ },
  { label: 'an empty name', nodes: (f) => [node('', 'file', { size: f.size, content: [f.id] })], shows: /""/ },
  { label: 'a name with "/" going up', nodes: (f) => [node('../../pwned', 'file', { size: f.size, content: [f.id] })], shows: /"\.\.\/\.\.\/pwned"/ },
  { label: 'an absolute name', nodes: (f) => [node('/tmp/pwned', 'file', { size: f.size, content: [f.id] })], shows: /"\/tmp\/pwned"/ },
  { label: 'a name with a NUL byte', nodes: (f) => [node('a\0b', 'file', { size: f.size, content: [f.id] })], shows: /"a\\u0000b"/ },
  { label: 'a harmless name whose raw bytes are ".."', nodes: (_f, sub) => [node('harmless', 'dir', { nameRaw: raw(b('..')), subtree: sub })], shows: /"harmless" \(raw 2e2e\)/ },
  { label: 'a harmless name whose raw bytes go up and out', nodes: (f) => [node('harmless', 'file', { nameRaw: raw(b('../escape-outside-x/pwned')), size: f.size, content: [f.id] })], shows: /"harmless" \(raw 2e2e2f/ },
  { label: 'raw bytes with a NUL', nodes: (f) => [node('harmless', 'file', { nameRaw: raw(b('a', [0], 'b')), size: f.size, content: [f.id] })], shows: /"harmless"/ },
  { label: 'raw bytes that are not base64', nodes: (f) => [node('harmless', 'file', { nameRaw: '!!not base64!!', size: f.size, content: [f.id] })], shows: /bad raw name for "harmless"/ },
  { label: 'a duplicate name: a link to outside and a directory', nodes: (_f, sub) => [node('dir', 'symlink', { target: '/tmp' }), node('dir', 'dir', { subtree: sub })], shows: /duplicate entry "dir"/ },
  { label: 'a duplicate name hidden in raw bytes', nodes: (_f, sub) => [node('dir', 'dir', { subtree: sub }), node('other', 'symlink', { nameRaw: raw(b('dir')), target: '/tmp' })], shows: /duplicate entry "other" \(raw 646972\)/ },
  { label: 'a link target with a NUL byte', nodes: () => [node('link', 'symlink', { target: 'a\0b' })], shows: /bad link target for "link"/ },
  { label: 'an empty link target', nodes: () => [node('link', 'symlink', { target: '' })], shows: /bad link target for "link"/ },
  { label: 'a mode beyond the permission bits', nodes: (f) => [node('modes', 'file', { mode: 0o170777, size: f.size, content: [f.id] })], shows: /bad metadata for "modes"/ },
  { label: 'an unknown node type', nodes: () => [node('sock', 'socket' as TreeNode['type'])], shows: /unknown node type for "sock"/ },
];

/** A snapshot with a good file at the root, and the hostile entry in subdirectory d (and at the root too when `atRoot`). */
function hostileSnapshot(c: HostileCase, atRoot: boolean): Promise<string> {
  return writeDamagedSnapshot(t, async (w) => {
    const f = await w.data(`pwned by ${c.label}\n`);
    const sub = await w.tree([node('pwned', 'file', { size: f.size, content: [f.id] })]);
    const good = await w.data('a good file\n');
    const inner = await w.tree([node('aaa-good.txt', 'file', { size: good.size, content: [good.id] }), ...c.nodes(f, sub)]);
    return w.tree([node('aaa-first.txt', 'file', { size: good.size, content: [good.id] }), node('d', 'dir', { subtree: inner }), ...(atRoot ? c.nodes(f, sub) : [])]);
  });
}

test('a damaged snapshot with hostile names: restore refuses in one line and writes nothing; ls fails cleanly; check reports the tree', async () => {
  const outside = t.path('escape-outside-x');
  mkdirSync(outside, { recursive: true });
  const made: string[] = [];
  for (const c of HOSTILE_CASES) {
    // the hostile entry sits in a subdirectory and at the root
    const id = await hostileSnapshot(c, true);
    made.push(id);
    const target = t.path(`damaged-target-${made.length}`);
    const r = await t.run(['restore', id, '--target', target]);
    assert.notEqual(r.code, 0, `${c.label}: restore must fail\n${r.stderr}`);
    const line = oneLine(r);
    assert.match(line, /^ocvault: tree [0-9a-f]{12} is malformed: /, `${c.label}: ${line}`);
    assert.match(line, c.shows, `${c.label}: the error names the entry: ${line}`);
    assert.ok(!line.includes('unexpected error'), line);
    assert.ok(!existsSync(target) || byteTree(target).size === 0, `${c.label}: nothing restored into the target`);
    const ls = await t.run(['ls', id]);
    assert.equal(ls.code, 1, `${c.label}: ls fails cleanly\n${ls.stderr}`);
    assert.match(oneLine(ls), /is malformed/);
  }
  // nothing appeared anywhere beside the targets (the scratch dir holds the repository, the sources, ...)
  const changed = [...byteTree(t.base).keys()].map((k) => Buffer.from(k, 'hex').toString('utf8')).filter((p) => /pwned/.test(p) && !p.startsWith('repo/'));
  assert.deepEqual(changed, [], 'no pwned file anywhere');
  assert.ok(!existsSync('/tmp/pwned'));

  const check = await t.run(['check', '--json']);
  assert.equal(check.code, 1, check.stderr);
  const report = parseJson<{ ok: boolean; errors: { kind: string; message: string }[] }>(check);
  assert.equal(report.ok, false);
  const treeErrors = report.errors.filter((e) => e.kind === 'tree');
  assert.ok(treeErrors.length >= HOSTILE_CASES.length, `every damaged tree is reported:\n${report.errors.map((e) => e.message).join('\n')}`);
  assert.ok(treeErrors.some((e) => /duplicate entry "dir"/.test(e.message)), treeErrors.map((e) => e.message).join('\n'));

  // the damaged snapshots go, so the later tests see a clean repository
  expectCode(await t.run(['forget', ...made, '--prune']), 0);
  expectCode(await t.run(['check']), 0);
});

test('hostile names only below the root: the restore, already writing, stops at that tree in one line; nothing of it lands anywhere', async () => {
  const made: string[] = [];
  for (const c of HOSTILE_CASES) {
    // the root is sound: the walk has handed files on by the time it meets the hostile tree
    const id = await hostileSnapshot(c, false);
    made.push(id);
    const target = t.path(`deep-damaged-target-${made.length}`);
    const r = await t.run(['restore', id, '--target', target]);
    assert.notEqual(r.code, 0, `${c.label}: restore must fail\n${r.stderr}`);
    const line = oneLine(r);
    assert.match(line, /^ocvault: tree [0-9a-f]{12} is malformed: /, `${c.label}: ${line}`);
    assert.match(line, c.shows, `${c.label}: the error names the entry: ${line}`);
  }
  // nothing of a hostile tree anywhere, the targets included
  const changed = [...byteTree(t.base).keys()].map((k) => Buffer.from(k, 'hex').toString('utf8')).filter((p) => /pwned/.test(p) && !p.startsWith('repo/'));
  assert.deepEqual(changed, [], 'no pwned file anywhere');
  assert.ok(!existsSync('/tmp/pwned'));
  expectCode(await t.run(['forget', ...made, '--prune']), 0);
  expectCode(await t.run(['check']), 0);
});

test('a damaged snapshot with a time no file system holds: the content is restored, the time is a warning and exit 3', async () => {
  const id = await writeDamagedSnapshot(t, async (w) => {
    const f = await w.data('timeless\n');
    return w.tree([node('far-future', 'file', { size: f.size, content: [f.id], mtimeNs: '1' + '0'.repeat(29) })]);
  });
  const target = t.path('far-future-target');
  const r = await t.run(['restore', id, '--target', target]);
  expectCode(r, 3);
  assert.match(r.stderr, /^warning: cannot set the time of .*far-future to 10{29} ns: EINVAL$/m, r.stderr);
  assert.equal(readFileSync(path.join(target, 'far-future'), 'utf8'), 'timeless\n');
  expectCode(await t.run(['forget', id, '--prune']), 0);
});

test('FIFOs and devices are stored as metadata and recreated; a FIFO never blocks the backup; a socket is left out with a note', { skip: !isRoot() && 'mknod needs root' }, async () => {
  const src = fresh('special-src');
  execFileSync('mkfifo', ['-m', '0640', path.join(src, 'fifo')]); // no writer: opening it for reading would block forever
  execFileSync('mknod', ['-m', '0600', path.join(src, 'null-like'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '0660', path.join(src, 'block'), 'b', '7', '250']);
  execFileSync('mknod', [path.join(src, 'big-numbers'), 'c', '300', '70000']);
  execFileSync('mkfifo', [path.join(src, 'fifo\nnewline')]);
  writeFileSync(path.join(src, 'regular'), 'regular\n');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(src, 'sock'), resolve));
  try {
    assert.ok(lstatSync(path.join(src, 'sock')).isSocket());
    const r = await t.run(['backup', src, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, 'the backup must not open the FIFO');
    const res = parseJson<BackupResult & { notes: string[] }>(expectCode(r, 0));
    assert.equal(res.stats.files, 1, 'only the regular file is read');
    assert.match(r.stderr, /^note: .*\/sock: socket left out/m, r.stderr);
    assert.equal(res.notes.length, 1);
    const ls = await t.json<{ path: string; type: string; rdev?: number }[]>(['ls', res.id, '--json']);
    assert.deepEqual(ls.map((e) => `${e.path}:${e.type}`).sort(), ['big-numbers:chardev', 'block:blockdev', 'fifo:fifo', 'fifo\nnewline:fifo', 'null-like:chardev', 'regular:file'].sort());
    const text = expectCode(await t.run(['ls', res.id]), 0).stdout;
    assert.match(text, /^p0640 .* fifo$/m);
    assert.match(text, /^c0600 .* null-like$/m);
    assert.match(text, /^b0660 .* block$/m);

    const expected = byteTree(src);
    expected.delete(Buffer.from('sock').toString('hex'));
    const target = t.path('special-restored');
    await t.restore(res.id, target);
    assertSameBytes(expected, byteTree(target), 'restored FIFOs and devices');
    // again, over what is there, and over a planted link and a file where the FIFO goes
    const outside = fresh('special-outside');
    writeFileSync(path.join(outside, 'victim'), 'x');
    const guard = new OutsideGuard(outside);
    rmSync(path.join(target, 'fifo'));
    symlinkSync(path.join(outside, 'victim'), path.join(target, 'fifo'));
    rmSync(path.join(target, 'null-like'));
    writeFileSync(path.join(target, 'null-like'), 'a file in the way');
    await t.restore(res.id, target);
    assertSameBytes(expected, byteTree(target), 'FIFOs and devices restored over what was in the way');
    guard.assertUntouched('restoring a FIFO over a planted link');
    // the restore drill compares FIFOs and devices too
    expectCode(await t.run(['check', '--restore', res.id]), 0);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('without root, a device node that cannot be made is a warning naming it and exit 3; the FIFO and the rest are restored', { skip: !isRoot() && 'needs root to make the device and to switch user' }, async () => {
  const u = await TestRepo.create({ ...NOBODY });
  try {
    const src = u.path('src');
    mkdirSync(src);
    execFileSync('mknod', [path.join(src, 'dev\nice'), 'c', '1', '3']);
    execFileSync('mkfifo', [path.join(src, 'fifo')]);
    writeFileSync(path.join(src, 'file'), 'file\n');
    const res = await u.backup([src]);
    const target = u.path('restored');
    const r = await u.run(['restore', res.id, '--target', target]);
    expectCode(r, 3);
    assert.match(r.stderr, /^warning: cannot recreate the chardev ".*\/dev\\nice": Operation not permitted$/m, r.stderr);
    assert.match(r.stderr, /^1 entry could not be recreated/m, r.stderr);
    assert.ok(lstatSync(path.join(target, 'fifo')).isFIFO());
    assert.equal(readFileSync(path.join(target, 'file'), 'utf8'), 'file\n');
    assert.ok(!existsSync(path.join(target, 'dev\nice')));
    assert.deepEqual(byteTree(target).size, 2, 'no temporary node left behind');
  } finally {
    await u.cleanup();
  }
});

test('a file replaced by a directory and back, between snapshots, restored over each other', async () => {
  const src = fresh('swap-src');
  const layout1 = (): void => {
    writeFileSync(path.join(src, 'x'), 'x was a file\n');
    mkdirSync(path.join(src, 'y/inner'), { recursive: true });
    writeFileSync(path.join(src, 'y/inner/f'), 'deep in y\n');
    symlinkSync('y', path.join(src, 'z'));
    mkdirSync(path.join(src, 'w'));
    chmodSync(path.join(src, 'w'), 0o500);
  };
  const layout2 = (): void => {
    mkdirSync(path.join(src, 'x'));
    writeFileSync(path.join(src, 'x/now-a-dir'), 'x is a dir\n');
    writeFileSync(path.join(src, 'y'), 'y is a file now\n');
    mkdirSync(path.join(src, 'z'));
    writeFileSync(path.join(src, 'z/f'), 'z was a link\n');
    writeFileSync(path.join(src, 'w'), 'w was a read-only dir\n');
  };
  const clear = (): void => {
    chmodSync(path.join(src, 'w'), 0o700);
    for (const n of ['x', 'y', 'z', 'w']) rmSync(path.join(src, n), { recursive: true, force: true });
  };
  layout1();
  const tree1 = byteTree(src);
  const s1 = await t.backup([src]);
  clear();
  layout2();
  const tree2 = byteTree(src);
  const s2 = await t.backup([src]);

  const target = t.path('swap-target');
  await t.restore(s1.id, target);
  assertSameBytes(tree1, byteTree(target), 'first layout');
  await t.restore(s2.id, target);
  assertSameBytes(tree2, byteTree(target), 'second layout over the first');
  // going back leaves x/now-a-dir gone (x becomes a file again) and z a link again
  await t.restore(s1.id, target);
  assertSameBytes(tree1, byteTree(target), 'first layout over the second');
});

test('a path longer than PATH_MAX cannot be stored: the backup names it and exits 3 instead of dropping it silently', async () => {
  const src = fresh('toolong-src');
  writeFileSync(path.join(src, 'short'), 'short\n');
  // build 45 levels of 100-byte names with relative paths (each mkdir stays under PATH_MAX)
  const here = process.cwd();
  process.chdir(src);
  try {
    mkdirSync('long');
    process.chdir('long');
    for (let d = 0; d < 45; d++) {
      const name = `${String(d).padStart(2, '0')}${'L'.repeat(98)}`;
      mkdirSync(name);
      process.chdir(name);
    }
    writeFileSync('bottom', 'too deep\n');
  } finally {
    process.chdir(here);
  }
  const r = await t.run(['backup', src, '--json']);
  const res = parseJson<BackupResult>(expectCode(r, 3));
  assert.ok(res.warnings.length >= 1, 'a warning names what was left out');
  assert.match(res.warnings.join('\n'), /LLLL.*ENAMETOOLONG/);
  assert.match(r.stderr, /^warning: .*ENAMETOOLONG/m);
  const ls = await t.ls(res.id);
  assert.ok(ls.some((e) => e.path === 'short'));
  execFileSync('rm', ['-rf', path.join(src, 'long')]); // GNU rm copes with paths over PATH_MAX
});
