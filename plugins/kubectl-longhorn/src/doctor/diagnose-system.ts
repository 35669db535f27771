/** The health summary of the whole system (pure): nodes, disks, volumes, settings, instance managers. */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { InstanceManager, Node, Setting, Volume } from '@longhorn-ts/api';
import type { Finding } from './findings.js';

export interface SystemView {
  nodes: Node[];
  volumes: Volume[];
  settings: Setting[];
  instanceManagers: InstanceManager[];
  events: CoreV1Event[];
}

export function diagnoseSystem(s: SystemView): Finding[] {
  const out: Finding[] = [];
  const notReady = s.nodes.filter(
    (n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True',
  );
  const noScheduling = s.nodes.filter((n) => n.spec.allowScheduling === false);
  out.push({
    severity: notReady.length > 0 ? 'error' : s.nodes.length === 0 ? 'error' : 'ok',
    subject: 'nodes',
    summary:
      s.nodes.length === 0
        ? 'no Longhorn nodes: is the operator running?'
        : `${s.nodes.length - notReady.length}/${s.nodes.length} ready, ${s.nodes.length - noScheduling.length} schedulable`,
    details: [
      ...notReady.map((n) => {
        const c = n.status?.conditions?.find((x) => x.type === 'Ready');
        return `node ${n.metadata.name}: not ready (${c?.reason || 'no Ready condition'})${c?.message ? ` ${c.message}` : ''}`;
      }),
      ...noScheduling.map((n) => `node ${n.metadata.name}: scheduling disabled`),
    ],
    next:
      notReady.length > 0
        ? ['check the operator and instance manager on those nodes (their logs; kubectl get nodes)']
        : [],
  });

  const diskIssues: string[] = [];
  for (const n of s.nodes) {
    for (const [disk, st] of Object.entries(n.status?.diskStatus ?? {})) {
      for (const c of st.conditions ?? []) {
        if (c.status !== 'True')
          diskIssues.push(
            `node ${n.metadata.name} disk ${disk}: ${c.type} ${c.status} (${c.reason ?? ''}) ${c.message ?? ''}`.trim(),
          );
      }
    }
  }
  if (diskIssues.length > 0) {
    out.push({
      severity: 'warning',
      subject: 'disks',
      summary: `${diskIssues.length} disk condition(s) not true`,
      details: diskIssues,
      next: ['free space or add disks: kubectl longhorn node list -o wide'],
    });
  }

  const by = (r: string) => s.volumes.filter((v) => (v.status?.robustness ?? '') === r);
  const unscheduled = s.volumes.filter((v) =>
    v.status?.conditions?.some((c) => c.type === 'Scheduled' && c.status === 'False'),
  );
  const faulted = by('faulted');
  const degraded = by('degraded');
  const bad = [...new Set([...faulted, ...degraded, ...unscheduled])];
  out.push({
    severity: faulted.length > 0 ? 'error' : bad.length > 0 ? 'warning' : 'ok',
    subject: 'volumes',
    summary: `${s.volumes.length} volume(s): ${by('healthy').length} healthy, ${degraded.length} degraded, ${faulted.length} faulted, ${unscheduled.length} unscheduled, ${s.volumes.filter((v) => v.status?.state === 'attached').length} attached`,
    details: bad.map((v) => {
      const c = v.status?.conditions?.find((x) => x.type === 'Scheduled' && x.status === 'False');
      return `volume ${v.metadata.name}: ${v.status?.state || '?'}, ${v.status?.robustness || '?'}${c ? `, unscheduled: ${c.message ?? c.reason ?? ''}` : ''}`;
    }),
    next: bad.map((v) => `kubectl longhorn doctor ${v.metadata.name}`),
  });

  const unapplied = s.settings.filter((x) => x.status?.applied === false);
  if (unapplied.length > 0) {
    out.push({
      severity: 'warning',
      subject: 'settings',
      summary: `${unapplied.length} setting(s) not applied (an invalid value reads as the default)`,
      details: unapplied.map((x) => {
        const ev = s.events.find((e) => e.involvedObject.name === x.metadata.name && e.type === 'Warning');
        return `setting ${x.metadata.name}=${JSON.stringify(x.value)}${ev?.message ? `: ${ev.message}` : ''}`;
      }),
      next: unapplied.map((x) => `kubectl longhorn setting set ${x.metadata.name} <valid value>`),
    });
  }

  const imDown = s.instanceManagers.filter((im) => im.status?.currentState !== 'running');
  if (imDown.length > 0) {
    out.push({
      severity: 'error',
      subject: 'instance managers',
      summary: `${imDown.length} not running`,
      details: imDown.map(
        (im) => `${im.metadata.name} on ${im.spec.nodeID ?? '?'}: ${im.status?.currentState || 'unknown'}`,
      ),
      next: ["check that node's instance manager process and its log"],
    });
  }
  return out;
}
