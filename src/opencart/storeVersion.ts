import { OcvaultError } from '../errors/OcvaultError.js';
import { hasDefine, parsePhpConfig, type PhpConfig } from './phpConfig.js';

/** The config layouts ocvault knows (see DESIGN.md, "OpenCart facts"). */
export type StoreFamily = '1.5' | '2.x' | '3.0' | '4.x';

/** `VERSION` from index.php's `define('VERSION', '4.1.0.5');`, or undefined. */
export function versionFromIndex(text: string, file: string): string | undefined {
  try {
    const d = parsePhpConfig(text, file).defines.find((x) => x.key === 'VERSION');
    if (d?.value) return d.value;
  } catch (e) {
    if (!(e instanceof OcvaultError)) throw e;
  }
  // index.php is code, not config: settle for the plain form when the rest does not lex
  return /define\(\s*['"]VERSION['"]\s*,\s*['"]([0-9][0-9A-Za-z._-]*)['"]\s*\)/.exec(text)?.[1];
}

/** The family of a version, or (version unknown) of the config's shape. */
export function storeFamily(version: string | undefined, cfg: PhpConfig): StoreFamily {
  const major = version ? /^(\d+)\./.exec(version)?.[1] : undefined;
  if (major === '1' || major === '0') return '1.5';
  if (major === '2') return '2.x';
  if (major === '3') return '3.0';
  if (major !== undefined && Number(major) >= 4) return '4.x';
  if (hasDefine(cfg, 'APPLICATION') || hasDefine(cfg, 'DIR_OPENCART')) return '4.x';
  if (hasDefine(cfg, 'DIR_STORAGE') || hasDefine(cfg, 'DIR_SESSION')) return '3.0';
  if (hasDefine(cfg, 'DIR_UPLOAD') || hasDefine(cfg, 'DIR_MODIFICATION') || hasDefine(cfg, 'DB_PORT')) return '2.x';
  return '1.5';
}
