/**
 * Python's scopes as the name analysis needs them.
 *
 * "Live" scopes run while the cell runs: the module, class bodies at module level, comprehensions inside those.
 * A name they load is resolved at once, in evaluation order, against what the cell has bound so far.
 * Function and lambda bodies (and everything inside them) are "deferred": they run when called, so their names are
 * resolved with Python's static rules once the whole body is known.
 */

export type ScopeKind = 'module' | 'function' | 'class' | 'comprehension';

/** Where the global names read by a deferred body are reported. */
export interface Owner {
  /** Module names the body reads; `null` means the body is anonymous and its reads count as the cell's reads. */
  freeNames: Set<string> | null;
}

export class Scope {
  /** Names bound in this scope: so far (live scopes) or anywhere in it (deferred, once walked). */
  readonly bound = new Set<string>();
  readonly globals = new Set<string>();
  readonly nonlocals = new Set<string>();
  /** Comprehension targets (known before the comprehension is walked). */
  readonly targets = new Set<string>();
  /** Deferred scopes: names loaded, with whether a class body had bound them at that point. */
  readonly loads: { name: string; boundBefore: boolean }[] = [];
  /** Deferred scopes: names stored (to find `global x` assignments). */
  readonly stores: string[] = [];
  readonly children: Scope[] = [];

  constructor(
    readonly kind: ScopeKind,
    readonly parent: Scope | null,
    readonly live: boolean,
    readonly owner: Owner | null,
  ) {
    parent?.children.push(this);
  }
}

export type Resolution = 'global' | 'local';

/** How a name loaded in deferred scope `s` resolves (CPython's rules, including class bodies' LOAD_NAME). */
export function resolveLoad(s: Scope, name: string, boundBefore: boolean): Resolution {
  switch (s.kind) {
    case 'function':
      if (s.globals.has(name)) return 'global';
      if (s.nonlocals.has(name) || s.bound.has(name)) return 'local';
      return resolveFree(s.parent, name);
    case 'comprehension':
      if (s.targets.has(name)) return 'local';
      return resolveFree(s.parent, name);
    case 'class':
      if (s.globals.has(name)) return 'global';
      if (boundBefore) return 'local';
      // Bound in the class body but not yet: the class namespace misses and the lookup goes to globals.
      if (s.bound.has(name)) return 'global';
      return resolveFree(s.parent, name);
    case 'module':
      return 'global';
  }
}

/** How a name free in a nested scope resolves from the scope `p` outwards; class scopes are not visible. */
export function resolveFree(p: Scope | null, name: string): Resolution {
  for (; p !== null; p = p.parent) {
    switch (p.kind) {
      case 'module':
        return 'global';
      case 'class':
        continue;
      case 'function':
        if (p.globals.has(name)) return 'global';
        if (p.nonlocals.has(name) || p.bound.has(name)) return 'local';
        continue;
      case 'comprehension':
        if (p.targets.has(name)) return 'local';
        continue;
    }
  }
  return 'global';
}
