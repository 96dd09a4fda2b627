import { isIP } from 'node:net';
import { blockedReason } from '../webhooks/url-guard.js';

/** LLM_REDACT_PII: never, only before providers off this machine and network, or always. */
export const REDACT_PII_MODES = ['off', 'cloud', 'all'] as const;
export type RedactPiiMode = (typeof REDACT_PII_MODES)[number];

/** Address classes that stay inside the machine or its network (webhooks refuse the same ones). */
const LOCAL_REASONS = new Set(['loopback', 'private', 'link-local', 'unspecified', 'carrier-grade NAT']);

/**
 * Whether a provider at `baseUrl` is local: `localhost` (and `*.localhost`, which resolve to loopback),
 * or a literal loopback, private, link-local or carrier-grade-NAT address. Any other hostname counts as
 * cloud, even one that resolves to a private address: DNS can change after the check, so redaction
 * is decided from what is written, never from a lookup. No base URL means the vendor's own cloud.
 */
export function isLocalProvider(baseUrl: string | null): boolean {
  if (!baseUrl) return false;
  let host: string;
  try {
    host = new URL(baseUrl).hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 0) return false;
  const reason = blockedReason(host);
  return reason !== null && LOCAL_REASONS.has(reason);
}

/**
 * Whether to redact a request to the provider at `providerBaseUrl`. `requested` is the request's own
 * `redact` field: true always redacts; false skips redaction except under `all`, which no request
 * can loosen; absent follows the mode.
 */
export function shouldRedact(mode: RedactPiiMode, providerBaseUrl: string | null, requested?: boolean): boolean {
  if (requested === true || mode === 'all') return true;
  if (requested === false) return false;
  switch (mode) {
    case 'off':
      return false;
    case 'cloud':
      return !isLocalProvider(providerBaseUrl);
  }
}
