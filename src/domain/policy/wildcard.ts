/** IAM's `*` (any run of characters) and `?` (one character) as an anchored regular expression. */
export function wildcardRegex(pattern: string, ignoreCase = false): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}

/** A set of patterns: exact names in a Set, wildcard ones as regular expressions. */
export class PatternSet {
  private readonly exact = new Set<string>();
  private readonly patterns: RegExp[] = [];

  constructor(
    values: readonly string[],
    private readonly ignoreCase: boolean,
  ) {
    for (const v of values) {
      if (/[*?]/.test(v)) this.patterns.push(wildcardRegex(v, ignoreCase));
      else this.exact.add(ignoreCase ? v.toLowerCase() : v);
    }
  }

  matches(value: string): boolean {
    if (this.exact.has(this.ignoreCase ? value.toLowerCase() : value)) return true;
    return this.patterns.some((p) => p.test(value));
  }
}
