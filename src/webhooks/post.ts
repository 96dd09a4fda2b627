import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import { blockedReason } from './url-guard.js';

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Replaces the system resolver (tests). */
  resolve?: (hostname: string) => Promise<string[]>;
}

/**
 * The connection's own name resolution, checked: the address a socket really connects to must be
 * public. Checking the URL before the request is not enough, since a hostname can resolve to a
 * public address for the check and to an internal one a moment later (DNS rebinding).
 */
function guardedLookup(options: PostOptions): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    const answer = (error: Error | null, addresses: string[]) => {
      if (error) return callback(error, '', 0);
      const refused = options.allowPrivate ? null : addresses.map((a) => [a, blockedReason(a)]).find(([, reason]) => reason);
      if (refused) {
        return callback(new Error(`${hostname} resolved to a ${refused[1]} address (${refused[0]}) at connection time; refused`), '', 0);
      }
      if (addresses.length === 0) return callback(new Error(`${hostname} does not resolve`), '', 0);
      const entries = addresses.map((address) => ({ address, family: isIP(address) }));
      // Node asks for every address when it races IPv4 and IPv6 (autoSelectFamily), else for one.
      if (lookupOptions.all) return (callback as unknown as (e: null, a: typeof entries) => void)(null, entries);
      return callback(null, entries[0]!.address, entries[0]!.family);
    };
    if (options.resolve) {
      options.resolve(hostname).then((addresses) => answer(null, addresses), (error: Error) => answer(error, []));
    } else {
      dnsLookup(hostname, { all: true, verbatim: true }, (error, found) => answer(error, error ? [] : found.map((f) => f.address)));
    }
  };
}

/** POSTs a webhook body and resolves with the status code. Redirects are not followed. */
export function postWebhook(url: URL, options: PostOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const settings: RequestOptions = {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
      lookup: guardedLookup(options),
      // A fresh connection each time, so every delivery's address goes through the check.
      agent: false,
      timeout: options.timeoutMs,
      signal: AbortSignal.timeout(options.timeoutMs),
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, settings, (res) => {
      // The body is of no interest; it is drained so the socket can be reused or closed.
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${options.timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', reject);
    req.end(options.body);
  });
}
