/**
 * CreateVolume's accessibility requirements as Longhorn terms: the zones/regions of the
 * requisite segments (or, without requisite, the preferred ones) become the Volume's
 * spec.topologyRequirement, which keeps its replicas on nodes there; the volume answers with
 * those segments as its accessible topology. Only the keys NodeGetInfo reports are understood.
 */
import { TOPOLOGY_REGION_LABEL, TOPOLOGY_ZONE_LABEL, type VolumeSpec } from '@longhorn-ts/api';
import type { Topology } from '../csi-types.js';
import { invalid } from '../errors.js';

type Terms = NonNullable<VolumeSpec['topologyRequirement']>;

const KNOWN = [TOPOLOGY_ZONE_LABEL, TOPOLOGY_REGION_LABEL];

export function topologyRequirementOf(
  req: { requisite?: Topology[]; preferred?: Topology[] } | null | undefined,
): Terms | undefined {
  const segments = (req?.requisite?.length ? req.requisite : req?.preferred) ?? [];
  const terms: Terms = [];
  const seen = new Set<string>();
  for (const t of segments) {
    const s = t.segments ?? {};
    const unknown = Object.keys(s).filter((k) => !KNOWN.includes(k));
    if (unknown.length > 0)
      throw invalid(
        `accessibility requirement with topology key ${unknown.join(', ')}: longhorn-ts nodes report only ${KNOWN.join(', ')}`,
      );
    const term = {
      ...(s[TOPOLOGY_ZONE_LABEL] ? { zone: s[TOPOLOGY_ZONE_LABEL] } : {}),
      ...(s[TOPOLOGY_REGION_LABEL] ? { region: s[TOPOLOGY_REGION_LABEL] } : {}),
    };
    const key = `${term.region ?? ''}/${term.zone ?? ''}`;
    if (key === '/' || seen.has(key)) continue;
    seen.add(key);
    terms.push(term);
  }
  return terms.length > 0 ? terms : undefined;
}

/** The segments a volume is accessible from: its topology terms, none when it has none. */
export function accessibleTopologyOf(terms: Terms | undefined): Topology[] | undefined {
  if (!terms || terms.length === 0) return undefined;
  return terms.map((t) => ({
    segments: {
      ...(t.zone ? { [TOPOLOGY_ZONE_LABEL]: t.zone } : {}),
      ...(t.region ? { [TOPOLOGY_REGION_LABEL]: t.region } : {}),
    },
  }));
}

export function sameTerms(a: Terms | undefined, b: Terms | undefined): boolean {
  const norm = (t: Terms | undefined) =>
    (t ?? [])
      .map((x) => `${x.region ?? ''}/${x.zone ?? ''}`)
      .sort()
      .join(',');
  return norm(a) === norm(b);
}
