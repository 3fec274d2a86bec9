// 'tailtab/widget': the types of the <tailtab-connect> custom element. The element itself is the
// Vite-built bundle dist/widget/tailtab-widget.js (src/ui/widget.ts, with lit, xterm.js and the
// node's Worker inside); importing 'tailtab/widget' registers it. Kept in step with the element by
// a compile-time check in src/ui/widget.ts.

/** The attributes of <tailtab-connect>, as properties. */
export interface TailtabConnectElement extends HTMLElement {
  /** attribute control-url */
  controlUrl: string;
  /** attribute auth-key: an ephemeral pre-auth key is the natural choice. */
  authKey: string;
  hostname: string;
  /** MagicDNS name or IP of the device. */
  target: string;
  /** Default 22 for ssh, 80 for http, 5900 for vnc (5900 + display number). */
  port: number;
  /** "ssh": a terminal; "http": the device's web page; "vnc": its desktop (a VNC server). */
  mode: 'ssh' | 'http' | 'vnc';
  username: string;
  /**
   * attribute ssh-auth: "none" for Tailscale SSH; "password" to ask the person in the widget's
   * terminal whatever the server asks (password, a 2FA "Verification code:"), or to use `password`;
   * "key" for the person's own SSH key, chosen inside the widget (a key file or paste, its
   * passphrase, "remember on this device"). No attribute takes a private key.
   */
  sshAuth: 'none' | 'password' | 'key';
  /** The SSH password (ssh-auth="password") or the VNC password (mode="vnc"); without it the person is asked. */
  password: string;
  /** attribute insecure-derp: plain ws:// relays (test rigs only). */
  insecureDerp: boolean;
  /** attribute webrtc: "off" for DERP relays only (no direct WebRTC path to other browser nodes). */
  webrtc: string;
  autostart: boolean;
  /**
   * attribute proxy-origin (mode="http", recommended): an origin serving tailtab's build
   * (proxy-host.html, sw.js), e.g. "https://proxy.tailtab.example". The device's page then runs on
   * an origin of its own under it (p<port>-<machine>.proxy.tailtab.example), not the vendor's.
   */
  proxyOrigin: string;
  /** Starts the ephemeral node and connects (what the button does). */
  start(): Promise<void>;
}

/** The element's class (registered as 'tailtab-connect' when the module is imported). */
export declare const TailtabConnect: { new (): TailtabConnectElement; prototype: TailtabConnectElement };

declare global {
  interface HTMLElementTagNameMap {
    'tailtab-connect': TailtabConnectElement;
  }
}
