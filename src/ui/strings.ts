// The sentences a person reads, kept together per view so they can be read (and reviewed) as a
// whole: one voice, one name for each thing, each error saying what to do. Remote text (host names,
// user names) is passed in and only ever rendered through Lit text bindings.

/** The terminals view: the tabs, and the sessions other tabs of this browser run. */
export const terminalsStrings = {
  noTerminal: 'No terminal yet: pick a machine and press SSH.',
  elsewhereHeading: 'Running in another tab',
  elsewhereHint:
    'These terminals run in this browser for another tab. Shown here too, both tabs see the same screen and both can type, as with tmux attach; closing it in one tab leaves it running in the other.',
  windowsShowing: (n: number) =>
    n === 0 ? 'no tab shows it now' : n === 1 ? 'shown in 1 other tab' : `shown in ${n} other tabs`,
  showHere: 'Show here',
  showHereLabel: (title: string) => `Show here: ${title}`,
};
