/**
 * What the rules may read besides the request: Settings (with Longhorn's defaults when a
 * Setting is absent or unreadable) and the longhorn.io objects a few rules need (a volume's
 * replicas and engines, nodes). The server builds it from informer caches; tests build it from
 * plain lists. Rules never call the API themselves.
 */
import {
  type Engine,
  isSettingName,
  type Node,
  parseSetting,
  type Replica,
  SETTING_DEFINITIONS,
  type SettingName,
  type SettingValue,
  type Volume,
} from '@longhorn-ts/api';

export interface AdmissionContext {
  /** The typed value of a setting: the cluster's, or Longhorn's default. */
  setting<N extends SettingName>(name: N): SettingValue<N>;
  volume(name: string): Volume | undefined;
  replicasOf(volumeName: string): readonly Replica[];
  enginesOf(volumeName: string): readonly Engine[];
  node(name: string): Node | undefined;
}

/** Setting values by name (as Setting objects hold them) read as typed values. */
export function settingReader(values: (name: string) => string | undefined) {
  return <N extends SettingName>(name: N): SettingValue<N> => {
    const raw = values(name);
    if (raw !== undefined) {
      try {
        return parseSetting(name, raw);
      } catch {
        // An invalid stored value (written before validation existed): fall back to the default.
      }
    }
    return SETTING_DEFINITIONS[name].default as SettingValue<N>;
  };
}

export interface StaticContextInput {
  settings?: Record<string, string>;
  volumes?: readonly Volume[];
  replicas?: readonly Replica[];
  engines?: readonly Engine[];
  nodes?: readonly Node[];
}

/** A context over fixed lists (tests, the benchmark). */
export function staticContext(input: StaticContextInput = {}): AdmissionContext {
  const settings = input.settings ?? {};
  return {
    setting: settingReader((name) => (isSettingName(name) ? settings[name] : undefined)),
    volume: (name) => input.volumes?.find((v) => v.metadata.name === name),
    replicasOf: (volumeName) => (input.replicas ?? []).filter((r) => r.spec.volumeName === volumeName),
    enginesOf: (volumeName) => (input.engines ?? []).filter((e) => e.spec.volumeName === volumeName),
    node: (name) => input.nodes?.find((n) => n.metadata.name === name),
  };
}
