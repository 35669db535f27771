/**
 * Why one volume is degraded, faulted, unscheduled or stuck (pure): read from its conditions,
 * replicas, engine, Node CRs, attachment tickets and Warning events, each finding with what to do.
 */
import type { Node } from '@longhorn-ts/api';
import { isoOf, replicaRow, type VolumeDetail } from '../render/volume.js';
import type { Finding } from './findings.js';

function nodeProblem(node: Node | undefined): string | undefined {
  if (!node) return 'has no Longhorn Node object';
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready && ready.status !== 'True')
    return `is not ready (${ready.reason || ready.status}${ready.message ? `: ${ready.message}` : ''})`;
  return undefined;
}

/** Next steps for a scheduling failure, by Longhorn's failure sentences. */
export function schedulingAdvice(message: string, volume: string): string[] {
  const m = message.toLowerCase();
  const out: string[] = [];
  if (m.includes('anti-affinity') || m.includes('anti affinity')) {
    out.push(
      `fewer replicas than nodes/zones are needed: kubectl longhorn volume create ... --replicas N, or allow two replicas per node: kubectl longhorn setting set replica-soft-anti-affinity true`,
    );
  }
  if (m.includes('insufficient storage')) {
    out.push(
      'free space or add a disk (kubectl longhorn node disk add NODE --path DIR), or raise storage-over-provisioning-percentage',
    );
  }
  if (m.includes('tags'))
    out.push(
      `the volume's node/disk selectors match no node or disk: check kubectl longhorn node list -o wide`,
    );
  if (m.includes('unavailable') || m.includes('not found')) {
    out.push('bring the nodes back or turn scheduling on: kubectl longhorn node scheduling NODE on');
  }
  if (out.length === 0)
    out.push('check node readiness, scheduling and free space: kubectl longhorn node list -o wide');
  out.push(`kubectl longhorn volume get ${volume}`);
  return out;
}

export function diagnoseVolume(d: VolumeDetail, now: number): Finding[] {
  const v = d.volume;
  const name = v.metadata.name;
  const subject = `volume/${name}`;
  const findings: Finding[] = [];
  const rows = d.replicas.map((r) => replicaRow(r, d.engine, d.nodes));
  const nodeOf = (n: string) => d.nodes.find((x) => x.metadata.name === n);
  const wanted = v.spec.numberOfReplicas ?? rows.length;

  const scheduled = v.status?.conditions?.find((c) => c.type === 'Scheduled');
  if (scheduled?.status === 'False') {
    const invalid = scheduled.reason === 'InvalidVolume';
    findings.push({
      severity: 'error',
      subject,
      summary: invalid
        ? `the volume spec is invalid: ${scheduled.message ?? ''}`
        : `not every replica can be scheduled (${scheduled.reason ?? 'Scheduled=False'})`,
      details: [scheduled.message ?? ''].filter(Boolean),
      next: invalid
        ? [
            `fix the spec (kubectl -n ${v.metadata.namespace ?? 'longhorn-system'} edit lhv ${name}) or delete and create it again`,
          ]
        : schedulingAdvice(scheduled.message ?? '', name),
    });
  }

  const robustness = v.status?.robustness ?? '';
  if (robustness === 'faulted') {
    const failed = rows.filter((r) => r.health === 'failed' || r.health === 'error');
    findings.push({
      severity: 'error',
      subject,
      summary: 'faulted: no replica holds usable data, so the volume cannot serve',
      details: [
        ...failed.map((r) => `replica ${r.name} on ${r.node || '?'} is ${r.health}`),
        ...(v.status?.lastAutoSalvagedAt ? [`last auto-salvage at ${v.status.lastAutoSalvagedAt}`] : []),
      ],
      next: [
        'bring back the nodes and disks of its replicas (kubectl longhorn node list)',
        'with the setting auto-salvage true (the default) the operator salvages the newest replica once one is reachable: kubectl longhorn setting get auto-salvage',
      ],
    });
  } else if (robustness === 'degraded') {
    const details: string[] = [];
    const next: string[] = [];
    for (const r of rows) {
      if (r.health === 'healthy') continue;
      const np = r.node ? nodeProblem(nodeOf(r.node)) : undefined;
      details.push(
        `replica ${r.name} on ${r.node || '(unscheduled)'}: ${r.health}${r.rebuild ? ` ${r.rebuild}` : ''}${np ? `; node ${r.node} ${np}` : ''}`,
      );
      if (np)
        next.push(
          `node ${r.node} ${np}: bring it back, or the replica is replaced after replica-replenishment-wait-interval`,
        );
    }
    const healthy = rows.filter((r) => r.health === 'healthy').length;
    if (rows.length < wanted) details.push(`${rows.length} of ${wanted} replicas exist`);
    if (rows.some((r) => r.health === 'rebuilding'))
      next.push(`a rebuild is running; follow it: kubectl longhorn volume get ${name} --watch`);
    if (next.length === 0)
      next.push(
        `wait for the operator to replace the missing replicas; watch: kubectl longhorn volume get ${name} --watch`,
      );
    findings.push({
      severity: 'warning',
      subject,
      summary: `degraded: ${healthy} of ${wanted} replicas healthy; I/O goes on, redundancy is reduced`,
      details,
      next,
    });
  }

  const engineCond = d.engine?.status?.conditions?.find((c) => c.status === 'False');
  if (engineCond) {
    findings.push({
      severity: 'error',
      subject: `engine/${d.engine?.metadata.name ?? ''}`,
      summary: `the engine failed: ${engineCond.reason ?? engineCond.type}`,
      details: [engineCond.message ?? ''].filter(Boolean),
      next: [
        /salvage/i.test(engineCond.message ?? '')
          ? 'the operator salvages it when auto-salvage is true'
          : `see the events: kubectl longhorn volume get ${name}`,
      ],
    });
  }

  for (const [id, t] of Object.entries(d.attachment?.spec.attachmentTickets ?? {})) {
    const st = d.attachment?.status?.attachmentTicketStatuses?.[id];
    const c = st?.conditions?.find((x) => x.type === 'Satisfied' && x.status === 'False');
    if (st && !st.satisfied && c?.message) {
      findings.push({
        severity: 'warning',
        subject,
        summary: `attachment ticket ${id} (${t.type ?? '?'} on ${t.nodeID ?? '?'}) is not satisfied`,
        details: [c.message],
        next: ['another ticket of higher priority holds the volume elsewhere, or it is still attaching'],
      });
    }
  }

  const state = v.status?.state ?? '';
  const since = Date.parse(
    v.status?.conditions?.find((c) => c.type === 'Scheduled')?.lastTransitionTime ?? '',
  );
  if ((state === 'attaching' || state === 'detaching') && (Number.isNaN(since) || now - since > 60_000)) {
    findings.push({
      severity: 'warning',
      subject,
      summary: `${state} for a while`,
      details: [],
      next: [`check the engine and replica events: kubectl longhorn volume get ${name}`],
    });
  }

  const warnings = d.events.filter((e) => e.type === 'Warning');
  if (warnings.length > 0) {
    const recent = [...warnings]
      .sort((a, b) =>
        isoOf(a.lastTimestamp ?? a.eventTime).localeCompare(isoOf(b.lastTimestamp ?? b.eventTime)),
      )
      .slice(-5);
    findings.push({
      severity: findings.length > 0 ? 'warning' : 'ok',
      subject,
      summary: `${warnings.length} warning event(s)`,
      details: recent.map((e) => `${e.reason ?? ''}: ${e.message?.split('\n')[0] ?? ''}`),
      next: [],
    });
  }

  if (findings.every((f) => f.severity === 'ok')) {
    const where = v.status?.currentNodeID ? `, attached to ${v.status.currentNodeID}` : '';
    findings.unshift({
      severity: 'ok',
      subject,
      summary: `${state || 'unknown state'}, ${robustness || 'unknown robustness'}${where}; ${rows.length}/${wanted} replicas`,
      details: [],
      next: [],
    });
  }
  return findings;
}
