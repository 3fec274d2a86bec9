// Which tailnet targets a web-view proxy port may reach (serveHttpProxy's allowTarget).
// Every port reaches tailnet machines only (the proxy is no way out to anywhere else). A port bound
// to a target — the one handed to that target's own origin (src/ui/proxy-origin.ts) — reaches that
// machine and port only, compared by the address names resolve to: whatever the scripts on that
// origin ask for, another app's pages, and the cookies the node holds for it, stay out of reach.

export interface ProxyBinding {
  host: string;
  port: number;
}

/** `resolve` gives a host's tailnet address, or throws / returns nothing when it has none. */
export function proxyTargetFilter(
  resolve: (host: string) => string | undefined,
  bound?: ProxyBinding,
): (host: string, port: number) => boolean {
  const addr = (host: string): string | undefined => {
    try {
      return resolve(host) || undefined;
    } catch {
      return undefined;
    }
  };
  // Resolved at each request, not once: routes change (a subnet route turned on, a peer's new
  // address), and the bound name must follow them like every other name does.
  return (host, port) => {
    const a = addr(host);
    if (!a) return false;
    if (!bound) return true;
    return port === bound.port && a === addr(bound.host);
  };
}
