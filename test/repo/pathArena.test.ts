import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathArena } from '../../src/sources/files/pathArena.js';

test('PathArena joins paths that stay intact across slabs, long ones included', () => {
  const arena = new PathArena();
  const made: Array<[Buffer, string]> = [];
  let dir: Buffer = Buffer.from('/target');
  for (let i = 0; i < 5000; i++) {
    const name = Buffer.from(`file-${i}-${'x'.repeat(i % 40)}`);
    made.push([arena.join(dir, name), `${dir.toString()}/${name.toString()}`]);
    if (i % 100 === 0) dir = arena.join(dir, Buffer.from(`d${i}`));
  }
  const long = Buffer.from('n'.repeat(20_000));
  made.push([arena.join(Buffer.from('/t'), long), `/t/${long.toString()}`]);
  for (const [path, expected] of made) assert.equal(path.toString(), expected);
});
