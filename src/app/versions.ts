/**
 * Dotted version numbers (`3.17.2`, `0.2.0`, Aurora's `3.10.3`) compared part by part as numbers, missing parts as 0:
 * negative when `a` is earlier than `b`, 0 when equal, positive when later. Used where a version decides something:
 * `upgrade` (no downgrade), `restore` (no snapshot newer than the cluster), the kept releases (src/transition). The
 * Node.js and CDK versions of `doctor` have their own reading (a leading `v`, three parts).
 */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
