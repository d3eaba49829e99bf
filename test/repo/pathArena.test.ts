import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathArena } from '../../src/sources/files/pathArena.js';

test('PathArena joins paths that stay intact across slabs, long ones included', () => {
  const arena = new PathArena();
  const made: Array<[number, string]> = [];
  let dir = arena.add(Buffer.from('/target'));
  made.push([dir, '/target']);
  for (let i = 0; i < 5000; i++) {
    const name = Buffer.from(`file-${i}-${'x'.repeat(i % 40)}`);
    made.push([arena.join(dir, name), `${arena.bytes(dir).toString()}/${name.toString()}`]);
    if (i % 100 === 0) dir = arena.join(dir, Buffer.from(`d${i}`));
    // a long name between short ones: the short ones go on filling the open slab
    if (i === 2500) {
      const long = Buffer.from('n'.repeat(20_000));
      made.push([arena.join(dir, long), `${arena.bytes(dir).toString()}/${long.toString()}`]);
    }
  }
  for (const [ref, expected] of made) assert.equal(arena.bytes(ref).toString(), expected);
});
