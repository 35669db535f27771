/**
 * The webhook's own PKI, made at start with WebCrypto (@peculiar/x509; no openssl): a CA whose
 * certificate goes into the webhook configurations' caBundle, and a serving certificate for
 * the given DNS names and IPs signed by it. A rotator re-issues the serving certificate before
 * it expires (and the CA before the CA does) and hands the new pair to whoever serves and
 * registers it, so nothing restarts and nobody copies a file.
 */
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Clock skew between us and the API server: certificates start being valid a bit earlier. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface CertificateAuthority {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
}

export interface ServingCertificate {
  /** PEM of the serving certificate. */
  cert: string;
  /** PEM (PKCS#8) of its private key. */
  key: string;
  notAfter: Date;
}

export interface IssuedPki {
  ca: CertificateAuthority;
  serving: ServingCertificate;
  /** PEM bundle the API server should trust (the current CA, and the previous one while it still signs a live cert). */
  caBundle: string;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function createCertificateAuthority(
  commonName: string,
  validityMs: number,
  now = new Date(),
): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityMs),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, keys, pem: certificate.toString('pem') };
}

export interface ServingNames {
  commonName: string;
  /** DNS names and IP addresses, e.g. 127.0.0.1 and longhorn-admission-webhook.longhorn-system.svc. */
  altNames: readonly string[];
}

export async function issueServingCertificate(
  ca: CertificateAuthority,
  names: ServingNames,
  validityMs: number,
  now = new Date(),
): Promise<ServingCertificate> {
  const keys = await newKeys();
  const notAfter = new Date(Math.min(now.getTime() + validityMs, ca.certificate.notAfter.getTime()));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${names.commonName}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.altNames.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value }) as x509.JsonGeneralName),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    cert: certificate.toString('pem'),
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    notAfter,
  };
}

export interface RotatorOptions {
  names: ServingNames;
  /** Default 10 years. */
  caValidityMs?: number;
  /** Default 1 year. */
  servingValidityMs?: number;
  /** Re-issue when this fraction of the serving certificate's life is left (default 1/3). */
  renewAtRemainingFraction?: number;
  /** Called with every new pair, the first one included; rotation waits for it. */
  onIssue: (pki: IssuedPki) => Promise<void> | void;
  onError?: (err: unknown) => void;
  now?: () => Date;
}

/** setTimeout caps delays at 2^31-1 ms (~24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class CertificateRotator {
  private ca: CertificateAuthority | undefined;
  private previousCa: CertificateAuthority | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** How many times a pair was issued (1 after start). */
  issued = 0;

  constructor(private readonly options: RotatorOptions) {}

  /** Issues the first pair (onIssue done) and schedules the next. */
  async start(): Promise<IssuedPki> {
    this.stopped = false;
    return await this.rotate();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Issues a new serving certificate now (and a new CA when the current one would expire first). */
  async rotate(): Promise<IssuedPki> {
    const now = this.options.now?.() ?? new Date();
    const servingValidity = this.options.servingValidityMs ?? 365 * DAY_MS;
    const caValidity = this.options.caValidityMs ?? 10 * 365 * DAY_MS;
    if (!this.ca || this.ca.certificate.notAfter.getTime() < now.getTime() + servingValidity) {
      this.previousCa = this.ca;
      this.ca = await createCertificateAuthority(`${this.options.names.commonName}-ca`, caValidity, now);
    }
    const serving = await issueServingCertificate(this.ca, this.options.names, servingValidity, now);
    const stillTrusted =
      this.previousCa && this.previousCa.certificate.notAfter > now ? [this.previousCa.pem] : [];
    const pki: IssuedPki = { ca: this.ca, serving, caBundle: [this.ca.pem, ...stillTrusted].join('') };
    await this.options.onIssue(pki);
    this.issued++;
    this.schedule(serving.notAfter, now);
    return pki;
  }

  private schedule(notAfter: Date, issuedAt: Date): void {
    if (this.stopped) return;
    const life = notAfter.getTime() - issuedAt.getTime();
    const renewAt = notAfter.getTime() - life * (this.options.renewAtRemainingFraction ?? 1 / 3);
    const wait = () => {
      const left = renewAt - (this.options.now?.() ?? new Date()).getTime();
      this.timer = setTimeout(
        () => {
          if (this.stopped) return;
          if (left > MAX_TIMER_MS) return wait();
          this.rotate().catch((err: unknown) => {
            this.options.onError?.(err);
            // Try again soon rather than let the certificate lapse.
            if (!this.stopped)
              this.timer = setTimeout(() => void this.rotate().catch(this.options.onError), 10_000);
          });
        },
        Math.max(0, Math.min(left, MAX_TIMER_MS)),
      );
      this.timer.unref();
    };
    wait();
  }
}
