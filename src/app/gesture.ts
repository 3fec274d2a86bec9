// The fresh-gesture check in front of a private key export: the page calls export from a click
// handler, and the browser's transient activation (HTML "user activation", navigator.userActivation
// .isActive: a click or key press within the last few seconds) must still be on. A script that
// calls export by itself — a timer, a message, a synthetic el.click() — has none and is refused.
// Where the browser has no navigator.userActivation (older engines), nothing is checked: the
// confirmation in the page is then the only gate (SECURITY.md).

export const NO_GESTURE =
  'Export refused: a private key leaves this browser only right after you click its Export button. Click "Save file" again.';

interface NavigatorLike {
  userActivation?: { isActive: boolean };
}

/** undefined when the export may go ahead; else the sentence to show. */
export function gestureProblem(
  nav: NavigatorLike | undefined = (globalThis as { navigator?: NavigatorLike }).navigator,
): string | undefined {
  const ua = nav?.userActivation;
  if (ua && typeof ua.isActive === 'boolean' && !ua.isActive) return NO_GESTURE;
  return undefined;
}
