/** What `doctor` reports: findings with a severity, what is wrong, why, and what to do next. */
export const SEVERITIES = ['ok', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  severity: Severity;
  /** The object concerned: `volume/vol-1`, `node/node-2`, `setting/x`, `system`. */
  subject: string;
  /** One sentence: what is the matter (or that all is well). */
  summary: string;
  /** The evidence: conditions, events, replica states. */
  details: string[];
  /** What to do next, as commands where one helps. */
  next: string[];
}

const MARK: Record<Severity, string> = { ok: 'OK   ', warning: 'WARN ', error: 'ERROR' };

export function renderFindings(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${MARK[f.severity]} ${f.subject}: ${f.summary}`);
    for (const d of f.details) lines.push(`        ${d}`);
    for (const n of f.next) lines.push(`        next: ${n}`);
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  lines.push(
    '',
    errors + warnings === 0 ? 'No problems found.' : `${errors} error(s), ${warnings} warning(s).`,
  );
  return lines.join('\n');
}
