import { OcvaultError } from '../errors/OcvaultError.js';
import type { ObjectType } from './Backend.js';

/** Names the engine uses: hex ids, `config`; never a path. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Where an object lives relative to the repository root, the same for every remote store and
 * the local directory: `config`, `data/<first two chars>/<name>`, `<type>/<name>`.
 */
export function objectKey(type: ObjectType, name: string): string {
  if (!SAFE_NAME.test(name)) throw new OcvaultError('Usage', `invalid object name ${JSON.stringify(name)}`, { type, name });
  if (type === 'config') return 'config';
  if (type === 'data') return `data/${name.slice(0, 2)}/${name}`;
  return `${type}/${name}`;
}

/** The folder that holds objects of a type (data: the folder of the sub-folders). */
export function typeFolder(type: ObjectType): string {
  return type === 'config' ? '' : type;
}

/** Folders a new repository gets. */
export const REPO_FOLDERS = ['keys', 'index', 'snapshots', 'locks', 'data', 'tmp'] as const;

/** The 256 sub-folders of data/. */
export function dataSubfolders(): string[] {
  return Array.from({ length: 256 }, (_, i) => `data/${i.toString(16).padStart(2, '0')}`);
}

/** A temporary name beside tmp/, for uploads that are renamed into place once complete. */
export function tempKey(name: string, random: string): string {
  return `tmp/${name}.${random}.tmp`;
}
