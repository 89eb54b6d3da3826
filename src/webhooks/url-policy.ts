/**
 * Where outbound webhooks may go. A subscription must not become a way to probe the daemon's own
 * network: by default a URL whose host is (or resolves to) a loopback, private, link-local,
 * carrier-grade NAT, multicast or unspecified address is refused. The operator lifts that per host
 * with `serve --webhook-allow-hosts` (names, `*.suffix`, IP addresses, CIDR ranges, or `*`).
 * Checked when a subscription is made and again on every send, on the addresses the connection
 * actually uses (the check runs inside the socket's DNS lookup), so a name re-pointed later at an
 * internal address is refused too.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/** A URL or address the policy refuses; the message says which rule and how to allow it. */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

const INTERNAL_V4 = [
  ['0.0.0.0', 8, 'an unspecified ("this network")'],
  ['10.0.0.0', 8, 'a private'],
  ['100.64.0.0', 10, 'a carrier-grade NAT'],
  ['127.0.0.0', 8, 'a loopback'],
  ['169.254.0.0', 16, 'a link-local'],
  ['172.16.0.0', 12, 'a private'],
  ['192.0.0.0', 24, 'a reserved'],
  ['192.168.0.0', 16, 'a private'],
  ['198.18.0.0', 15, 'a benchmarking'],
  ['224.0.0.0', 4, 'a multicast'],
  ['240.0.0.0', 4, 'a reserved'],
] as const;
const INTERNAL_V6 = [
  ['::', 128, 'an unspecified'],
  ['::1', 128, 'a loopback'],
  ['fc00::', 7, 'a private (unique local)'],
  ['fe80::', 10, 'a link-local'],
  ['ff00::', 8, 'a multicast'],
] as const;

/** What kind of internal address `ip` is ('a loopback', …), or null for a public one. */
export function internalKind(ip: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1]! : ip;
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  for (const [net, prefix, kind] of family === 'ipv4' ? INTERNAL_V4 : INTERNAL_V6) {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    if (list.check(address, family)) return kind;
  }
  return null;
}

export class UrlPolicy {
  readonly #names: string[] = [];
  readonly #suffixes: string[] = [];
  readonly #addresses = new BlockList();
  readonly #any: boolean;

  /** `allowHosts`: host names, `*.example.com`, IP addresses, CIDR ranges, or `*` (anything). */
  constructor(readonly allowHosts: readonly string[] = []) {
    this.#any = allowHosts.includes('*');
    for (const raw of allowHosts) {
      const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
      if (!entry || entry === '*') continue;
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!)) this.#addresses.addSubnet(cidr[1]!, Number(cidr[2]), isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6');
      else if (isIP(entry)) this.#addresses.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
      else if (entry.startsWith('*.')) this.#suffixes.push(entry.slice(1));
      else this.#names.push(entry);
    }
  }

  /** Parse and check a subscription's URL (scheme, then host and addresses); throws WebhookUrlError. */
  async check(url: string): Promise<URL> {
    const parsed = parseWebhookUrl(url);
    const host = hostOf(parsed);
    if (this.hostAllowed(host)) return parsed;
    if (isIP(host)) {
      this.checkAddress(host, host);
      return parsed;
    }
    const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
      dnsLookup(host, { all: true }, (err, found) => (err ? reject(new WebhookUrlError(`cannot resolve the webhook host ${host}: ${err.code ?? err.message}`)) : resolve(found))),
    );
    for (const a of addresses) this.checkAddress(host, a.address);
    return parsed;
  }

  /** Allowed by name (whatever it resolves to). */
  hostAllowed(host: string): boolean {
    const h = host.toLowerCase();
    return this.#any || this.#names.includes(h) || this.#suffixes.some((s) => h.endsWith(s));
  }

  /** Throws unless `address` (of `host`) is public or allowed by the operator. */
  checkAddress(host: string, address: string): void {
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (this.#addresses.check(address, family)) return;
    const kind = internalKind(address);
    if (kind === null) return;
    const what = host === address ? `${address} is ${kind} address` : `${host} resolves to ${address}, ${kind} address`;
    throw new WebhookUrlError(
      `webhook URL refused: ${what}; the daemon does not send webhooks to internal addresses unless its operator allows the host (serve --webhook-allow-hosts ${host})`,
    );
  }

  /**
   * A `lookup` for http.request that refuses internal addresses at connect time (the check the
   * subscription passed may be stale: DNS can change). IP-literal hosts never reach a lookup:
   * the sender checks those with checkAddress first.
   */
  lookupFor(host: string): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 4);
        try {
          if (!this.hostAllowed(host)) for (const a of addresses) this.checkAddress(host, a.address);
        } catch (refused) {
          return callback(refused as NodeJS.ErrnoException, '', 4);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
  }
}

/** Scheme http or https, a host, no fragment: anything else is refused with the reason. */
export function parseWebhookUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookUrlError(`webhook URL ${JSON.stringify(url)} is not a valid absolute URL (e.g. https://hooks.example.com/brokkr)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new WebhookUrlError(`webhook URL scheme ${parsed.protocol.replace(/:$/, '')} is not allowed: use http or https`);
  }
  if (!parsed.hostname) throw new WebhookUrlError(`webhook URL ${JSON.stringify(url)} has no host`);
  return parsed;
}

/** The host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}
