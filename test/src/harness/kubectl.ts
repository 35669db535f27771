import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { binaryPath } from './binaries.js';
import { waitFor } from './wait.js';

export class KubectlError extends Error {
  readonly code = 'KUBECTL_FAILED';
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`kubectl ${args.join(' ')} failed (${exitCode}): ${stderr.trim()}`);
  }
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  items: T[];
}

/** A running `kubectl get -w`: every value it printed, in order. */
export interface FieldWatch {
  readonly values: readonly string[];
  stop(): void;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

/** Manifests as YAML/JSON text, one object, or many objects. */
export type Manifests = string | object | object[];

function manifestText(manifests: Manifests): string {
  if (typeof manifests === 'string') return manifests;
  const items = Array.isArray(manifests) ? manifests : [manifests];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** The real kubectl against one kubeconfig: the same tool a user types. */
export class Kubectl {
  private readonly binary: string;

  constructor(
    readonly kubeconfig: string,
    binary?: string,
  ) {
    this.binary = binary ?? binaryPath('kubectl');
  }

  run(args: string[], options: RunOptions = {}): Promise<string> {
    const full = ['--kubeconfig', this.kubeconfig, ...args];
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binary,
        full,
        { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            const code = typeof err.code === 'number' ? err.code : null;
            reject(new KubectlError(args, stderr || err.message, code));
          } else {
            resolve(stdout);
          }
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }

  /** `kubectl apply -f -` (server-side apply when `serverSide`). */
  async apply(manifests: Manifests, options: { serverSide?: boolean } = {}): Promise<string> {
    const args = ['apply', '-f', '-'];
    if (options.serverSide) args.push('--server-side', '--force-conflicts');
    return this.run(args, { input: manifestText(manifests) });
  }

  /** `kubectl apply -f PATH` for a file or a directory of manifests. */
  applyFile(path: string): Promise<string> {
    return this.run(['apply', '-f', path]);
  }

  async delete(manifests: Manifests, options: { wait?: boolean } = {}): Promise<string> {
    return this.run(['delete', '--ignore-not-found', `--wait=${options.wait ?? true}`, '-f', '-'], {
      input: manifestText(manifests),
    });
  }

  /** `kubectl get -o json`; `name` omitted lists. */
  async get<T = KubeObject>(resource: string, name?: string, namespace?: string): Promise<T> {
    const args = ['get', resource];
    if (name) args.push(name);
    if (namespace) args.push('-n', namespace);
    args.push('-o', 'json');
    return JSON.parse(await this.run(args)) as T;
  }

  /** Like get, but undefined when the object does not exist. */
  async tryGet<T = KubeObject>(resource: string, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.get<T>(resource, name, namespace);
    } catch (err) {
      if (err instanceof KubectlError && /NotFound|not found/.test(err.stderr)) return undefined;
      throw err;
    }
  }

  async list<T = KubeObject>(resource: string, namespace?: string): Promise<T[]> {
    const args = ['get', resource, '-o', 'json'];
    args.push(...(namespace ? ['-n', namespace] : ['--all-namespaces']));
    return (JSON.parse(await this.run(args)) as KubeList<T>).items;
  }

  /**
   * Waits until `predicate` holds for the object (polling `kubectl get` with a deadline) and
   * returns it. For conditions, `waitForCondition` lets kubectl watch instead.
   */
  waitForObject<T = KubeObject>(
    resource: string,
    name: string,
    predicate: (obj: T) => boolean,
    options: { namespace?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    return waitFor(
      `${resource}/${name} to satisfy the predicate`,
      async () => {
        const obj = await this.tryGet<T>(resource, name, options.namespace);
        return obj !== undefined && predicate(obj) ? obj : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000 },
    );
  }

  /**
   * `kubectl wait --for=condition=X` (or `--for=jsonpath=...`, `--for=delete`): a watch on the
   * server, bounded by a deadline.
   */
  async waitForCondition(
    target: string | string[],
    condition: string,
    options: { namespace?: string; timeoutMs?: number; all?: boolean; selector?: string } = {},
  ): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const forArg = /^(condition|jsonpath|delete|create)/.test(condition)
      ? condition
      : `condition=${condition}`;
    const args = [
      'wait',
      ...(Array.isArray(target) ? target : [target]),
      `--for=${forArg}`,
      `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
    ];
    if (options.namespace) args.push('-n', options.namespace);
    if (options.all) args.push('--all');
    if (options.selector) args.push('-l', options.selector);
    // `kubectl wait --for=condition` fails at once, instead of waiting, on an object whose
    // status has no conditions yet (".status.conditions accessor error: <nil>"), e.g. a CRD
    // created a moment ago: that one answer means "not yet".
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.run(args, { timeoutMs: timeoutMs + 10_000 });
      } catch (err) {
        const notYet = err instanceof KubectlError && /conditions accessor error: <nil>/.test(err.message);
        if (!notYet || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * `kubectl get RESOURCE NAME -w -o jsonpath=...`: records the field's value at the start and at
   * every change the server sends, so a state that lasts less than a poll interval is still seen.
   */
  watchField(resource: string, name: string, jsonpath: string, namespace?: string): FieldWatch {
    const args = [
      '--kubeconfig',
      this.kubeconfig,
      'get',
      resource,
      name,
      '-w',
      '-o',
      `jsonpath=${jsonpath}{"\\n"}`,
    ];
    if (namespace) args.push('-n', namespace);
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const values: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => values.push(line));
    return {
      values,
      stop: () => {
        child.kill('SIGTERM');
      },
    };
  }
}
