/**
 * Recognises files whose format is compressed already (JPEG, PNG, WebP, archives, video…) by
 * their first bytes. zstd gains nothing on them (less than the 1/32 a blob must shrink by to be
 * stored compressed), so their chunks are stored raw without a trial compression: in the bench
 * tree (16 000 images) the trials were the workers' largest zstd cost.
 *
 * Only magic numbers long or distinctive enough that a text or database file does not begin
 * with them by chance; a miss costs only the trial compression it always had.
 */
const MAGICS: readonly (readonly [offset: number, bytes: Buffer])[] = [
  [0, Buffer.from([0xff, 0xd8, 0xff])], // JPEG
  [0, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])], // PNG
  [0, Buffer.from('GIF87a')],
  [0, Buffer.from('GIF89a')],
  [0, Buffer.from([0x1f, 0x8b, 0x08])], // gzip (deflate)
  [0, Buffer.from([0x28, 0xb5, 0x2f, 0xfd])], // zstd
  [0, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])], // xz
  [0, Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])], // 7z
  [0, Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07])], // rar
  [0, Buffer.from([0x50, 0x4b, 0x03, 0x04])], // zip, and docx/xlsx/jar/apk built on it
  [0, Buffer.from([0x1a, 0x45, 0xdf, 0xa3])], // Matroska / WebM
  [0, Buffer.from('OggS')],
  [0, Buffer.from('fLaC')],
  [0, Buffer.from('wOF2')], // WOFF2 (brotli)
  [0, Buffer.from('wOFF')], // WOFF (zlib)
  [4, Buffer.from('ftyp')], // ISO media: mp4, mov, m4a, HEIC, AVIF
];

const BZIP2 = Buffer.from('BZh');
const BZIP2_BLOCK = Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);
const RIFF = Buffer.from('RIFF');
const WEBP = Buffer.from('WEBP');

function startsWith(head: Uint8Array, offset: number, magic: Uint8Array): boolean {
  if (head.length < offset + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (head[offset + i] !== magic[i]) return false;
  return true;
}

/** Does a file beginning with `head` hold a compressed format? */
export function isCompressedFormat(head: Uint8Array): boolean {
  for (const [offset, magic] of MAGICS) if (startsWith(head, offset, magic)) return true;
  // RIFF is also WAV and AVI (often uncompressed): only its WebP form counts
  if (startsWith(head, 0, RIFF) && startsWith(head, 8, WEBP)) return true;
  // "BZh" and a block size digit could begin a text; the block magic after them cannot
  return startsWith(head, 0, BZIP2) && head[3]! >= 0x31 && head[3]! <= 0x39 && startsWith(head, 4, BZIP2_BLOCK);
}
