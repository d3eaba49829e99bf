/**
 * Exclude and include patterns, gitignore-like: a pattern without '/' matches a base name at
 * any depth; one with '/' matches the path relative to the backed-up root (a leading '/' is
 * optional); a trailing '/' matches directories only. `*` and `?` stop at '/', `**` does not.
 */
export interface PathPattern {
  source: string;
  dirOnly: boolean;
  anchored: boolean;
  regex: RegExp;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        out += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}

export function parsePattern(source: string): PathPattern {
  let p = source;
  const dirOnly = p.endsWith('/');
  if (dirOnly) p = p.replace(/\/+$/, '');
  const anchored = p.includes('/');
  if (p.startsWith('/')) p = p.slice(1);
  return { source, dirOnly, anchored, regex: new RegExp('^' + globToRegex(p) + '$', 's') };
}

/** Does the pattern match this path (relative, '/'-separated)? */
export function matchesPattern(pat: PathPattern, relPath: string, isDir: boolean): boolean {
  if (pat.dirOnly && !isDir) return false;
  if (pat.anchored) return pat.regex.test(relPath);
  const slash = relPath.lastIndexOf('/');
  return pat.regex.test(slash < 0 ? relPath : relPath.slice(slash + 1));
}

export function matchesAny(pats: readonly PathPattern[], relPath: string, isDir: boolean): boolean {
  for (const p of pats) if (matchesPattern(p, relPath, isDir)) return true;
  return false;
}

/**
 * The path excludes match an entry `name` of the directory at `parent` against: relative to
 * the backed-up root, '/'-separated; '' when there are no excludes (nothing to match).
 */
export function childPath(pats: readonly PathPattern[], parent: string, name: Buffer): string {
  if (pats.length === 0) return '';
  return parent ? `${parent}/${name.toString('utf8')}` : name.toString('utf8');
}
