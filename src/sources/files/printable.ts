/**
 * A file name or path for one line of human output. Names that a terminal would mangle are
 * shown quoted with C-style escapes, like git's quoted paths: control characters (a newline
 * would split the line), and bytes that are not UTF-8 (as \xHH). Other names print as they are.
 */
export function printablePath(p: string | Buffer): string {
  const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
  let out = '';
  let quote = bytes[0] === 0x22;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const seq = len ? bytes.subarray(i, i + len) : undefined;
    const ch = seq && seq.length === len ? seq.toString('utf8') : undefined;
    if (ch === undefined || ch.includes('\uFFFD') || !Buffer.from(ch, 'utf8').equals(seq!)) {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      quote = true;
      i++;
      continue;
    }
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) {
      out += ESCAPES[ch] ?? `\\x${code.toString(16).padStart(2, '0')}`;
      quote = true;
    } else if (ch === '\\' || ch === '"') out += '\\' + ch;
    else out += ch;
    i += len;
  }
  return quote ? `"${out}"` : bytes.toString('utf8');
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\0': '\\0' };
