// Modules the Service Worker's build provides (vite-sw-plugin.ts).

declare module 'virtual:tailtab-frame-script' {
  /** The frame script (frame-script.ts) built as one classic script, served as /__tailtab/frame.js. */
  const source: string;
  export default source;
}
