import type { ViewManifest } from './manifest.js';
import { quoteIdent } from './identifiers.js';

/**
 * Views ordered so a view comes after the views it names (a view's statement mentioning
 * `other` in backticks counts as a dependency). Cycles, which only false matches can make,
 * keep the original order.
 */
export function orderViews(views: readonly ViewManifest[]): ViewManifest[] {
  const byName = new Map(views.map((v) => [v.name, v]));
  const deps = new Map(views.map((v) => [v.name, views.filter((o) => o.name !== v.name && v.createStatement.includes(quoteIdent(o.name))).map((o) => o.name)]));
  const out: ViewManifest[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) !== undefined) return;
    state.set(name, 'visiting');
    for (const d of deps.get(name) ?? []) visit(d);
    state.set(name, 'done');
    out.push(byName.get(name) as ViewManifest);
  };
  for (const v of views) visit(v.name);
  return out;
}
