import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../http/errors.js';

/*
 * Webhook URLs are chosen by users and fetched by the server: without this guard they reach the
 * cloud metadata service, the database or anything else on the private network (SSRF). Checked on
 * create, before every delivery, and on the address the delivery's socket connects to (post.ts),
 * since a hostname can be re-pointed between a check and a connection (DNS rebinding).
 */

const BLOCKED: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'private'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const lists = BLOCKED.map(([network, prefix, family, reason]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, reason };
});

/** Why an address may not be delivered to, or null when it is public. */
export function blockedReason(address: string): string | null {
  let family = isIP(address);
  if (family === 0) return 'not an IP address';
  let ip = address;
  // IPv4-mapped IPv6 (::ffff:127.0.0.1) is checked as the IPv4 address it is.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) {
    ip = mapped[1]!;
    family = 4;
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { list, reason } of lists) if (list.check(ip, type)) return reason;
  return null;
}

export interface UrlGuardOptions {
  /** Allows private, loopback and link-local targets (self-hosted setups, tests). */
  allowPrivate: boolean;
  /** For tests: replaces the system resolver. */
  resolve?: (hostname: string) => Promise<string[]>;
}

async function systemResolve(hostname: string): Promise<string[]> {
  const addresses = await lookup(hostname, { all: true, verbatim: true });
  return addresses.map((a) => a.address);
}

function refuse(message: string): AppError {
  return new AppError('validation_failed', message, [{ field: 'url', message }]);
}

/** Throws AppError('validation_failed') unless `url` is http(s) and every address it resolves to is public. */
export async function assertDeliverableUrl(url: string, options: UrlGuardOptions): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse('The webhook URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw refuse(`The webhook URL must use http or https, not ${parsed.protocol.replace(/:$/, '')}`);
  }
  if (parsed.username || parsed.password) throw refuse('The webhook URL must not contain credentials');
  if (options.allowPrivate) return parsed;

  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolve)(host);
    } catch {
      throw refuse(`The webhook URL's host ${host} does not resolve`);
    }
    if (addresses.length === 0) throw refuse(`The webhook URL's host ${host} does not resolve`);
  }
  for (const address of addresses) {
    const reason = blockedReason(address);
    if (reason) throw refuse(`The webhook URL resolves to a ${reason} address (${address}), which is not allowed`);
  }
  return parsed;
}
