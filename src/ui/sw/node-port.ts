// The worker's port to the node. This worker cannot reach the tailnet itself: a page hands it a
// MessagePort connected to the node (serveHttpProxy, src/http/proxy-server.ts, in the node's
// Worker). When this worker restarts it has lost the port: it asks its window clients for a new
// one ('tailtab-need-port'; the page answers with {type:'tailtab-node-port'} and the port).
import type { ProxyToNode } from '../../http/proxy-protocol.js';
import { NEED_PORT, type NeedPortMessage } from './messages.js';
import { sw } from './scope.js';

const PORT_WAIT_MS = 10000;

let nodePort: MessagePort | null = null;
let portWaiters: { resolve: (p: MessagePort) => void }[] = [];
let nextId = 1;

/** A fresh id for a request or WebSocket on the node's port. */
export function nextMessageId(): number {
  return nextId++;
}

/** Posts one message of the proxy protocol to the node. */
export function postToNode(port: MessagePort, m: ProxyToNode, transfer: Transferable[] = []): void {
  port.postMessage(m, transfer);
}

/**
 * A node port from a page. Several tabs may each answer 'tailtab-need-port': the newest port
 * serves new requests, and requests already sent on an older one finish there (a dead one is
 * found by ping/pong).
 */
export function setNodePort(port: MessagePort, onMessage: (e: MessageEvent) => void): void {
  nodePort = port;
  nodePort.onmessage = onMessage;
  const ws = portWaiters;
  portWaiters = [];
  for (const w of ws) w.resolve(nodePort);
}

/** A node that does not answer is likely gone (its Worker restarted): ask for a new port next time. */
export function dropNodePort(port: MessagePort): void {
  if (nodePort === port) nodePort = null;
}

export async function getPort(): Promise<MessagePort> {
  if (nodePort) return nodePort;
  const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of all) c.postMessage({ type: NEED_PORT } satisfies NeedPortMessage);
  return new Promise((resolve, reject) => {
    const w = { resolve };
    portWaiters.push(w);
    setTimeout(() => {
      if (!portWaiters.includes(w)) return;
      portWaiters = portWaiters.filter((x) => x !== w);
      reject(new Error('the tailtab node is not running in any open tab'));
    }, PORT_WAIT_MS);
  });
}
