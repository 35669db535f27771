/** The HTTPS server on 127.0.0.1 with bad and good input; certificates and their rotation. */

import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticContext } from '../src/admission/context.js';
import { applyPatch } from '../src/admission/json-patch.js';
import { CertificateRotator, type IssuedPki } from '../src/certificates.js';
import { mutatingConfiguration, validatingConfiguration } from '../src/configurations.js';
import { type AdmissionServer, MUTATION_PATH, startAdmissionServer, VALIDATION_PATH } from '../src/server.js';
import { volume } from './fixtures.js';

interface Reply {
  status: number;
  body: Record<string, unknown>;
  certificate: string;
}

function post(
  server: AdmissionServer,
  ca: string,
  path: string,
  body: string | Buffer,
  method = 'POST',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${server.url}${path}`,
      { method, ca, headers: { 'content-type': 'application/json' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const peer = (
            res.socket as unknown as { getPeerX509Certificate?: () => X509Certificate | undefined }
          ).getPeerX509Certificate?.();
          resolve({
            status: res.statusCode ?? 0,
            body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text },
            certificate: peer?.serialNumber ?? '',
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function review(request: unknown): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
}

const volumeRequest = (spec: object, operation = 'CREATE') => ({
  uid: 'u-1',
  kind: { group: 'longhorn.io', version: 'v1beta2', kind: 'Volume' },
  operation,
  object: volume(spec as never),
});

describe('admission server', () => {
  let server: AdmissionServer;
  let pki: IssuedPki;
  let rotator: CertificateRotator;

  beforeAll(async () => {
    rotator = new CertificateRotator({
      names: { commonName: 'webhook-test', altNames: ['127.0.0.1', 'localhost'] },
      onIssue: (issued) => {
        pki = issued;
        server?.setCertificate(issued.serving);
      },
    });
    await rotator.start();
    server = await startAdmissionServer({
      host: '127.0.0.1',
      port: 0,
      tls: pki.serving,
      context: () => staticContext(),
      logger: pino({ level: 'silent' }),
      bodyLimit: '64kb',
    });
  });
  afterAll(async () => {
    rotator.stop();
    await server.close();
  });

  it('answers /healthz', async () => {
    const reply = await post(server, pki.caBundle, '/healthz', '', 'GET');
    expect(reply).toMatchObject({ status: 200, body: { text: 'ok' } });
  });

  it('denies an invalid Volume with the message and the uid', async () => {
    const reply = await post(
      server,
      pki.caBundle,
      VALIDATION_PATH,
      review(volumeRequest({ numberOfReplicas: 21 })),
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u-1',
        allowed: false,
        status: {
          code: 400,
          reason: 'BadRequest',
          message: 'spec.numberOfReplicas 21 is out of range; set it from 1 to 20',
        },
      },
    });
  });

  it('returns a base64 JSON patch from the mutation endpoint', async () => {
    const bare = volumeRequest({});
    bare.object.spec = { size: '1' };
    const reply = await post(server, pki.caBundle, MUTATION_PATH, review(bare));
    const response = reply.body.response as { allowed: boolean; patchType: string; patch: string };
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const patched = applyPatch(bare.object, JSON.parse(Buffer.from(response.patch, 'base64').toString()));
    expect(patched.spec).toMatchObject({ size: '2097152', numberOfReplicas: 3, accessMode: 'rwo' });
  });

  it.each<[string, string | Buffer, number, RegExp]>([
    ['malformed JSON', '{"apiVersion": ', 400, /^the body is not valid JSON/],
    ['a JSON array', '[1,2]', 400, /^the body is not valid JSON|^the body is not a JSON object/],
    ['a JSON string', '"hello"', 400, /^the body is not valid JSON|^the body is not a JSON object/],
    [
      'another kind of object',
      JSON.stringify({ kind: 'Pod', apiVersion: 'v1' }),
      400,
      /^kind is "Pod"; send an AdmissionReview$/,
    ],
    [
      'admission v1beta1',
      JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1', request: {} }),
      400,
      /only admission.k8s.io\/v1 is served/,
    ],
    [
      'a review without request',
      JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1' }),
      400,
      /has no request object/,
    ],
    [
      'a request without uid',
      review({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' }),
      400,
      /request.uid is missing/,
    ],
    [
      'a bad operation',
      review({ uid: 'x', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH' }),
      400,
      /request.operation "PATCH" is not one of/,
    ],
    ['a body over the limit', Buffer.alloc(200 * 1024, 'a'), 413, /^the body is larger than 64kb$/],
  ])('answers %s with %i and a message', async (_what, body, status, message) => {
    const reply = await post(server, pki.caBundle, VALIDATION_PATH, body);
    expect(reply.status).toBe(status);
    expect(String(reply.body.message)).toMatch(message);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'a kind it has no rules for',
      {
        uid: 'x',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        operation: 'CREATE',
        object: { metadata: { name: 'd' } },
      },
      /no rules for apps\/v1 Deployment/,
    ],
    [
      'a CREATE without object',
      { uid: 'x', kind: { group: 'longhorn.io', version: 'v1beta2', kind: 'Volume' }, operation: 'CREATE' },
      /request.object is missing for CREATE/,
    ],
    [
      'an UPDATE without oldObject',
      { ...volumeRequest({}, 'UPDATE') },
      /request.oldObject is missing for UPDATE/,
    ],
    [
      'a Volume without spec',
      { ...volumeRequest({}), object: { metadata: { name: 'v' } } },
      /Volume v has no spec object/,
    ],
    ['a Volume without a name', { ...volumeRequest({}), object: { spec: {} } }, /metadata.name is missing/],
    [
      'a Volume with fields of the wrong types',
      {
        ...volumeRequest({}),
        object: {
          metadata: { name: 'v' },
          spec: { size: { a: 1 }, numberOfReplicas: 'three', diskSelector: 7 },
        },
      },
      /spec.size \{"a":1\} is not a number of bytes/,
    ],
  ])('denies %s with a message (HTTP 200)', async (_what, request, message) => {
    for (const path of [VALIDATION_PATH, MUTATION_PATH]) {
      const reply = await post(server, pki.caBundle, path, review(request));
      expect(reply.status).toBe(200);
      const response = reply.body.response as { allowed: boolean; status?: { message: string } };
      // The mutator fills a missing spec and leaves bad values to the validator.
      if (path === MUTATION_PATH && /size|spec object/.test(String(message))) continue;
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toMatch(message);
    }
  });

  it('allows DELETE of anything without looking', async () => {
    const reply = await post(
      server,
      pki.caBundle,
      VALIDATION_PATH,
      review({ ...volumeRequest({ numberOfReplicas: 99 }), operation: 'DELETE' }),
    );
    expect((reply.body.response as { allowed: boolean }).allowed).toBe(true);
  });

  it('answers 404 with a message on other paths', async () => {
    const reply = await post(server, pki.caBundle, '/nope', '{}');
    expect(reply.status).toBe(404);
  });

  it('survives 200 concurrent bad and good requests and still answers', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => (i % 2 ? '{"broken' : review(volumeRequest({}))));
    const replies = await Promise.all(bodies.map((b) => post(server, pki.caBundle, VALIDATION_PATH, b)));
    expect(replies.filter((r) => r.status === 400)).toHaveLength(100);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(100);
  });

  it('rotates the serving certificate without a restart', async () => {
    const before = await post(server, pki.caBundle, '/healthz', '', 'GET');
    const oldSerial = new X509Certificate(pki.serving.cert).serialNumber;
    expect(before.certificate).toBe(oldSerial);
    await rotator.rotate();
    const newSerial = new X509Certificate(pki.serving.cert).serialNumber;
    expect(newSerial).not.toBe(oldSerial);
    const after = await post(server, pki.caBundle, '/healthz', '', 'GET');
    expect(after.certificate).toBe(newSerial);
  });
});

describe('certificates', () => {
  it('issues a serving certificate for the IPs and DNS names, signed by the CA', async () => {
    let issued: IssuedPki | undefined;
    const rotator = new CertificateRotator({
      names: { commonName: 'svc', altNames: ['127.0.0.1', 'svc.longhorn-system.svc'] },
      servingValidityMs: 60_000,
      onIssue: (p) => {
        issued = p;
      },
    });
    await rotator.start();
    rotator.stop();
    const cert = new X509Certificate(issued!.serving.cert);
    const ca = new X509Certificate(issued!.ca.pem);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('svc.longhorn-system.svc')).toBe('svc.longhorn-system.svc');
    expect(cert.ca).toBe(false);
    expect(ca.ca).toBe(true);
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThanOrEqual(61_000);
  });

  it('re-issues on its own before expiry', async () => {
    const serials: string[] = [];
    const rotator = new CertificateRotator({
      names: { commonName: 'svc', altNames: ['127.0.0.1'] },
      servingValidityMs: 900,
      renewAtRemainingFraction: 0.5,
      onIssue: (p) => {
        serials.push(new X509Certificate(p.serving.cert).serialNumber);
      },
    });
    await rotator.start();
    const deadline = Date.now() + 10_000;
    while (serials.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    rotator.stop();
    expect(serials.length).toBeGreaterThanOrEqual(2);
    expect(new Set(serials).size).toBe(serials.length);
  });
});

describe('configurations', () => {
  const caBundle = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n';
  it('points at a URL in the local mode and a Service in a cluster', () => {
    const local = validatingConfiguration({ endpoint: { url: 'https://127.0.0.1:9443' }, caBundle });
    expect(local.webhooks?.[0]?.clientConfig).toEqual({
      url: 'https://127.0.0.1:9443/v1/webhook/validation',
      caBundle: Buffer.from(caBundle).toString('base64'),
    });
    const cluster = mutatingConfiguration({
      endpoint: { service: { namespace: 'longhorn-system', name: 'lh-webhook', port: 9502 } },
      caBundle,
    });
    expect(cluster.webhooks?.[0]?.clientConfig.service).toEqual({
      namespace: 'longhorn-system',
      name: 'lh-webhook',
      port: 9502,
      path: '/v1/webhook/mutation',
    });
  });

  it('never wedges: CREATE/UPDATE only, Fail only for longhorn.io, kube-system and deleting objects skipped', () => {
    const config = validatingConfiguration({ endpoint: { url: 'https://127.0.0.1:1' }, caBundle });
    const webhooks = [
      ...(config.webhooks ?? []),
      ...(mutatingConfiguration({ endpoint: { url: 'https://127.0.0.1:1' }, caBundle }).webhooks ?? []),
    ];
    for (const webhook of webhooks) {
      for (const rule of webhook.rules ?? []) {
        expect(rule.operations).not.toContain('DELETE');
        expect(rule.operations).not.toContain('*');
        expect(rule.resources?.some((r) => r.includes('/'))).toBe(false);
        expect(webhook.failurePolicy).toBe(rule.apiGroups?.includes('longhorn.io') ? 'Fail' : 'Ignore');
      }
      expect(webhook.timeoutSeconds).toBe(10);
      expect(webhook.namespaceSelector?.matchExpressions).toEqual([
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] },
      ]);
      expect(webhook.matchConditions).toEqual([
        { name: 'not-being-deleted', expression: '!has(object.metadata.deletionTimestamp)' },
      ]);
    }
  });
});
