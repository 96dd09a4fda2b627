import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
  /** The certificate's PEM, for a client to trust (https `ca`, ws `ca`). */
  cert: string;
}

/**
 * A fresh self-signed certificate for 127.0.0.1 (its subjectAltName, which clients check), made by
 * openssl into a temp folder of its own. Set TLS_CERT_FILE/TLS_KEY_FILE to the files and connect
 * to https://127.0.0.1 or wss://127.0.0.1 trusting `cert`.
 */
export function makeSelfSignedCert(): SelfSignedCert {
  const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-days', '2', '-keyout', keyFile, '-out', certFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}
