// Shared transport type: any ordered, reliable byte stream in both directions
// (a Noise-wrapped WebSocket for control, a netstack TCP socket for HTTP, a net.Socket in tests).

export interface ByteDuplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}
