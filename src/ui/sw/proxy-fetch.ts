// One fetch of a proxied app through the node: the request goes out on the node's port, the
// response head comes back, then the body in chunks (proxy protocol: http/proxy-protocol.ts):
//   → request   ← response, chunk… end | error   → ack as the browser takes body bytes
//   → cancel when the browser drops the body     → ping while no head comes   ← pong
import { decodeFromNode, type ProxyFromNode, type ProxyResponseMessage } from '../../http/proxy-protocol.js';
import { dropNodePort, getPort, nextMessageId, postToNode, setNodePort } from './node-port.js';
import { sw } from './scope.js';
import { proxiedReferrer, targetUrl, type ProxyTarget } from './target.js';

// The node gives up on a response head after 300 s (long polls); if it is silent for 15 s we ask
// whether it is alive at all ('ping'), and a node that does not 'pong' within 5 s is gone.
const HEAD_TIMEOUT_MS = 330000;
const PING_AFTER_MS = 15000;
const PONG_WITHIN_MS = 5000;

/** One request in flight: its head awaited, then its body queued until the stream pulls. */
interface Pending {
  id: number;
  port: MessagePort;
  queue: Uint8Array[];
  controller: ReadableStreamDefaultController<Uint8Array> | null;
  wanted: boolean;
  ended: boolean;
  closed: boolean;
  head: ProxyResponseMessage | null;
  lastPong: number;
  /** An error that came before the body stream was made: it starts errored. */
  error?: string;
  resolve: (head: ProxyResponseMessage) => void;
  reject: (e: Error) => void;
}

const pending = new Map<number, Pending>();
/** Messages from the node that did not decode (never expected from our own node). */
export const nodeMessageStats = { malformed: 0 };

function fail(p: Pending, message: string): void {
  if (p.head) {
    if (!p.controller)
      p.error = message; // the stream is about to be made; it starts errored
    else if (!p.closed) {
      p.closed = true;
      try {
        p.controller.error(new Error(message));
      } catch {
        /* already closed */
      }
    }
  } else {
    p.reject(new Error(message));
  }
}

// Hand one queued chunk to the stream when it asks (pull), acknowledging it to the node: the
// node's window then advances only as fast as the browser consumes.
function deliver(p: Pending): void {
  if (!p.controller || p.closed) return;
  if (p.wanted && p.queue.length) {
    const c = p.queue.shift()!;
    p.wanted = false;
    p.controller.enqueue(c);
    if (p.port) postToNode(p.port, { type: 'ack', id: p.id, bytes: c.byteLength });
  }
  if (p.ended && !p.queue.length) {
    p.closed = true;
    p.controller.close();
  }
}

const onNode: { [K in ProxyFromNode['type']]: (p: Pending, m: Extract<ProxyFromNode, { type: K }>) => void } = {
  pong(p) {
    p.lastPong = Date.now();
  },
  response(p, m) {
    p.head = m;
    p.resolve(m);
  },
  chunk(p, m) {
    p.queue.push(new Uint8Array(m.data));
    deliver(p);
  },
  end(p, m) {
    p.ended = true;
    pending.delete(m.id);
    deliver(p);
  },
  error(p, m) {
    pending.delete(m.id);
    fail(p, m.message);
  },
};

function onNodeMessage(event: MessageEvent): void {
  const d = decodeFromNode(event.data);
  if (!d.ok) {
    nodeMessageStats.malformed++;
    const p = d.id !== undefined ? pending.get(d.id) : undefined;
    if (p) {
      // Never sent by our node: end that request here and at the node, as for an error.
      pending.delete(p.id);
      postToNode(p.port, { type: 'cancel', id: p.id });
      fail(p, `malformed message from the tailtab node (${d.reason})`);
    }
    return;
  }
  const p = pending.get(d.msg.id);
  if (!p) return;
  (onNode[d.msg.type] as (p: Pending, m: ProxyFromNode) => void)(p, d.msg);
}

/** Takes a node port handed by a page (the caller has checked who may hand one). */
export function acceptNodePort(port: MessagePort): void {
  setNodePort(port, onNodeMessage);
}

const DROPPED_HEADERS = ['set-cookie', 'transfer-encoding', 'connection', 'keep-alive'];
const REDIRECTS = [301, 302, 303, 307, 308];
const NULL_BODY = [204, 205, 304];

/** Fetches `request` from `target` through the node. Rejects with a message for the error page. */
export async function proxy(request: Request, target: ProxyTarget): Promise<Response> {
  const port = await getPort();
  const id = nextMessageId();
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  const headers: [string, string][] = [];
  request.headers.forEach((v, k) => headers.push([k, v]));
  const referrer = proxiedReferrer(request.referrer, sw.location.origin, target);
  const p: Pending = {
    id,
    port,
    queue: [],
    controller: null,
    wanted: false,
    ended: false,
    closed: false,
    head: null,
    lastPong: 0,
    resolve: () => {},
    reject: () => {},
  };
  const head = await new Promise<ProxyResponseMessage>((resolve, reject) => {
    p.resolve = resolve;
    p.reject = reject;
    pending.set(id, p);
    postToNode(
      port,
      {
        type: 'request',
        id,
        method: request.method,
        url: targetUrl(target),
        headers,
        body,
        referrer,
        destination: request.destination,
      },
      body ? [body] : [],
    );
    const started = Date.now();
    const giveUp = (message: string) => {
      pending.delete(id);
      dropNodePort(port);
      reject(new Error(message));
    };
    const check = () => {
      if (p.head || !pending.has(id)) return;
      if (Date.now() - started >= HEAD_TIMEOUT_MS)
        return giveUp(`no answer from the tailtab node within ${HEAD_TIMEOUT_MS / 1000} s`);
      const asked = Date.now();
      postToNode(port, { type: 'ping', id });
      setTimeout(() => {
        if (p.head || !pending.has(id)) return;
        if (!(p.lastPong >= asked)) return giveUp('the tailtab node stopped answering');
        setTimeout(check, PING_AFTER_MS);
      }, PONG_WITHIN_MS);
    };
    setTimeout(check, PING_AFTER_MS);
  });
  if (!(head.status >= 200 && head.status <= 599)) {
    postToNode(port, { type: 'cancel', id });
    pending.delete(id);
    throw new Error(`the server answered with status ${head.status}`);
  }
  const outHeaders = new Headers();
  for (const [k, v] of head.headers) {
    const key = k.toLowerCase();
    if (DROPPED_HEADERS.includes(key)) continue;
    try {
      outHeaders.append(k, v);
    } catch {
      /* a value the Headers class refuses: leave it out */
    }
  }
  const isRedirect = REDIRECTS.includes(head.status) && outHeaders.has('location');
  // Null-body responses (and redirects, whose bodies nobody reads): stop the node's stream now
  // so it does not hold a tailnet connection waiting for acknowledgements.
  if (NULL_BODY.includes(head.status) || request.method === 'HEAD' || isRedirect) {
    if (!p.ended) postToNode(port, { type: 'cancel', id });
    pending.delete(id);
    return makeResponse(null, head, outHeaders);
  }
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        p.controller = c;
        if (p.error) {
          p.closed = true;
          c.error(new Error(p.error));
          return;
        }
        deliver(p);
      },
      pull() {
        p.wanted = true;
        deliver(p);
      },
      cancel() {
        p.closed = true;
        if (pending.has(id)) postToNode(port, { type: 'cancel', id });
        pending.delete(id);
      },
    },
    { highWaterMark: 0 },
  );
  return makeResponse(stream, head, outHeaders);
}

function makeResponse(body: ReadableStream<Uint8Array> | null, head: ProxyResponseMessage, headers: Headers): Response {
  try {
    return new Response(body, { status: head.status, statusText: head.statusText || '', headers });
  } catch {
    // A reason phrase the Response constructor refuses: it carries no meaning (RFC 9112 §4).
    return new Response(body, { status: head.status, headers });
  }
}
