// The byte-stream seam: any ordered, reliable byte stream in both directions, as a pair of WHATWG
// streams. A netstack TCP connection, a Noise-wrapped control WebSocket, an SSH channel, a
// net.Socket in tests: control/h2, noise/controlbase and ssh/ run over whichever they are given.

export interface ByteDuplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}
