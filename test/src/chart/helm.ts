/**
 * The real helm binary (built into the binary cache by test/harness/build-binaries.sh) and the
 * parsing of what it renders.
 */
import { execFile } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { binaryPath } from '../harness/binaries.js';
import type { KubeObject } from '../harness/kubectl.js';

export class HelmError extends Error {
  readonly code = 'HELM_FAILED';
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`helm ${args.join(' ')} failed (${exitCode}): ${stderr.trim()}`);
  }
}

/** The Kubernetes version `helm template` renders for (our helm is built without one: v1.20). */
export const TEMPLATE_KUBE_VERSION = '1.36.3';

export interface HelmOptions {
  kubeconfig?: string;
  timeoutMs?: number;
}

/** Runs helm; resolves with stdout, rejects with a HelmError carrying stderr. */
export function helm(args: string[], options: HelmOptions = {}): Promise<string> {
  const full = options.kubeconfig ? ['--kubeconfig', options.kubeconfig, ...args] : args;
  return new Promise((resolve, reject) => {
    execFile(
      binaryPath('helm'),
      full,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(new HelmError(args, stderr || err.message, typeof err.code === 'number' ? err.code : null));
        else resolve(stdout);
      },
    );
  });
}

/** Every object of a multi-document manifest (empty documents dropped); a YAML error throws. */
export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`manifest does not parse: ${doc.errors[0]?.message}`);
    const value = doc.toJS({ maxAliasCount: -1 }) as KubeObject | null;
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

/** `kind/name` (with `namespace/` in front for namespaced objects), for messages and sets. */
export function objectRef(o: KubeObject): string {
  return `${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.kind}/${o.metadata.name}`;
}

/** The one object of `kind` named `name`; throws naming what there is. */
export function findObject<T = KubeObject>(objects: KubeObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${objects.map(objectRef).join(', ')}`);
  return found as T;
}
