// The sentences a person reads in every view (the connect form, the machines list, the login
// dialog and its questions, the terminals, the web view, files, desktop, status, settings, SSH
// keys, and the widget on a vendor's page), kept together so they can be read (and reviewed) as a
// whole: one voice, one name for each thing (a "machine" of the
// "tailnet", a "terminal", a "tab"), each problem saying what to do next. Remote text (host names,
// user names, the server's words) is passed in and only ever rendered through Lit text bindings.
// The checks of typed input word their refusals in validate.ts; the Desktop's in vnc.ts.

/** How a probe's reason reads in brackets: '' when there is none. */
function why(reason: string | undefined): string {
  return reason === 'refused' ? ' (connection refused)' : reason ? ` (${reason})` : '';
}

/** The machines list. */
export const machinesStrings = {
  heading: 'Machines',
  searchLabel: 'Search machines',
  searchPlaceholder: 'Search name, IP, OS',
  noMatch: 'No machine matches.',
  noneYet: 'No other machines in this tailnet yet.',
  browserNode: 'Another browser running tailtab: nothing to open here.',
  ssh: (name: string) => `SSH to ${name}`,
  files: (name: string) => `Files on ${name}`,
  web: (name: string) => `Open web view of ${name}`,
  desktop: (name: string) => `Desktop of ${name} (VNC)`,
  noSsh: (port: number) => `No SSH server answered on port ${port}.`,
  noVnc: 'No VNC server answered on ports 5900 and 5901.',
  recentHeading: 'Recent',
  lastVisit: (titles: string[]) =>
    `Your last visit had ${titles.length === 1 ? 'a terminal' : `${titles.length} terminals`} open: ${titles.join(', ')}.`,
  reopen: (n: number) => `Reopen ${n === 1 ? 'it' : 'them'}`,
  notInTailnet: ' — this machine is not in the tailnet now',
  offline: ' — offline',
};

/** The login dialog (a terminal or Files on a machine). */
export const sshDialogStrings = {
  label: (files: boolean) => (files ? 'Files login' : 'SSH login'),
  heading: (files: boolean, name: string) => `${files ? 'Files on' : 'SSH to'} ${name}`,
  submit: (files: boolean) => (files ? 'Open files' : 'Open terminal'),
  /** What a connect to the SSH port found, when nothing answered. */
  noServer: (port: number, name: string, reason?: string) =>
    `Nothing answered on port ${port} of ${name}${why(reason)}: no SSH server listens there. Try another port, or start an SSH server on that machine.`,
  methodTailscale: 'Tailscale SSH (the tailnet authenticates you)',
  /** On a machine that published no SSH host keys to the tailnet: it does not run Tailscale SSH. */
  methodTailscaleNotHere: 'Tailscale SSH (this machine does not run it)',
  methodPassword: 'Password',
  methodKey: 'SSH key kept in this browser',
  methodKeyNone: 'SSH key kept in this browser (none yet: add one in Settings)',
  allKeys: 'All my keys, in order',
};

/** The terminals view: the tabs, and the sessions other tabs of this browser run. */
export const terminalsStrings = {
  noTerminal: 'No terminal yet: pick a machine and press SSH.',
  elsewhereHeading: 'Other terminals running in this browser',
  elsewhereHint:
    'Opened in another tab, or in a tab closed a moment ago (kept for a minute). Show one here too: every tab showing it sees the same screen and can type into it, as with tmux attach; closing it in one tab leaves it running in the others.',
  windowsShowing: (n: number) =>
    n === 0 ? 'not shown in any tab' : n === 1 ? 'shown in 1 other tab' : `shown in ${n} other tabs`,
  showHere: 'Show here',
  showHereLabel: (title: string) => `Show here: ${title}`,
  close: (title: string) => `Close ${title}`,
};

/** One terminal: its state line, its buttons, and how its session ended. */
export const terminalStrings = {
  connecting: 'Connecting…',
  connectingTo: (user: string, host: string) => `Connecting to ${user}@${host}…`,
  leaveHint: 'Ctrl+] leaves the terminal',
  endedWithDedicatedWorker:
    "This terminal ended with the page reload: in this browser, tailtab's connection to the tailnet lives in the page and ends with it. Press Reconnect for a new session.",
  endedWhileAway: "This terminal's session ended while the page was away. Press Reconnect for a new session.",
  ended: (exit: { code?: number; signal?: string; error?: string }) =>
    exit.error === 'closed'
      ? 'Session closed.'
      : exit.error
        ? `Session ended: ${exit.error}`
        : exit.signal
          ? `Session ended by signal ${exit.signal}.`
          : `Session ended with exit status ${exit.code ?? 'unknown'}.`,
  reconnect: 'Reconnect',
};

/** How the host key of an open session was vouched for (the terminal's and Files' state line). */
export const hostKeyStrings = {
  tailnet: 'Tailscale SSH: the tailnet vouches for this machine, so no host key is checked.',
  tailnetPinned: (fp: string) =>
    `Tailscale SSH: the host key ${fp} matches the one this machine published to the tailnet.`,
  firstUse: (fp: string) => `First connection: host key ${fp} remembered.`,
  known: (fp: string) => `Host key ${fp} matches the one remembered.`,
};

/** The questions a login puts to the person (keyboard-interactive, the legacy-device choice). */
export const loginPromptStrings = {
  loginTo: (user: string, host: string) => `Login to ${user}@${host}`,
  continue: 'Continue',
  cancel: 'Cancel',
  legacyTitle: (host: string) => `${host} uses old, weak security`,
  legacyChoice:
    'If this is an old device you cannot update, you can connect anyway: tailtab then also accepts SHA-1 and short RSA keys for this host only, and remembers the choice (Settings lists it and can forget it).',
  legacyConnect: 'Connect anyway (legacy device)',
};

/** The web view: an app of a machine, shown on an origin of its own. */
export const webViewStrings = {
  addressLabel: 'Address',
  addressPlaceholder: 'http://machine:port/',
  go: 'Go',
  addressExample: 'Enter an http:// address of a machine in your tailnet, e.g. http://nas:8080/.',
  couldNotOpen: (host: string, port: number, why: string) =>
    `The web view could not open ${host}:${port} on its own origin: ${why}`,
  opening: 'Opening the app on its own origin…',
  wouldShareOrigin:
    "This web view would share tailtab's own origin: the app shown could read tailtab's keys and act as you.",
  showAnyway: 'Show it anyway for this session',
  sharesOrigin:
    'This web view shares tailtab\'s own origin: the app shown here could read tailtab\'s keys and act as you. Open only hosts you trust, or serve tailtab with a separate proxy origin (README, "Web view isolation").',
  starting: 'Starting the web proxy…',
  howItWorks:
    "Each machine's app runs on an origin of its own. Pages, scripts, styles, images, form posts and WebSockets go through the tailnet.",
  frameTitle: (target: string) => `Web view of ${target}`,
};

/** The connect form a first visit meets (and a returning one, with its remembered profiles). */
export const connectStrings = {
  heading: 'Connect to your tailnet',
  profilesLabel: 'Remembered profiles',
  remembered: 'Remembered in this browser:',
  profileWhere: (hostname: string, controlUrl: string) => `${hostname} on ${controlUrl}`,
  loginAgain: 'Or log in again',
  controlLabel: 'Control server',
  controlHint: "Tailscale's own, or your Headscale server's URL.",
  keyLabel: 'Auth key (optional)',
  keyPlaceholder: 'tskey-auth-… or a Headscale pre-auth key',
  keyHint: 'Without a key you get a login link to approve.',
  nameLabel: "This browser's machine name",
  kiosk: 'Kiosk mode: a temporary machine; the tailnet and this browser forget it when this tab closes',
  advanced: 'Advanced',
  insecureDerp: 'Allow plain ws:// relays (a local test tailnet only)',
  relaysOnly: 'Relays only: no direct WebRTC path to other browser nodes',
  controlKeyLabel: 'Control server key (if this page cannot read /key)',
  connect: 'Connect',
  connecting: 'Connecting…',
  approveHeading: 'Approve this browser',
  approveText: 'Open the link to log in; this page moves on by itself once you approve.',
  qrLabel: 'Login link as a QR code',
};

/** Status: this browser's machine, the relays, the other machines, the log. */
export const statusStrings = {
  thisBrowser: 'This browser',
  state: 'State:',
  name: 'Name:',
  addresses: 'Addresses:',
  control: 'Control server:',
  /** ", next try in 3 s" while a connection waits out its backoff. */
  retry: (ms: number | undefined) =>
    ms === undefined ? '' : ms < 1000 ? ', trying again now' : `, next try in ${Math.ceil(ms / 1000)} s`,
  queueLabel: 'Terminal output waiting:',
  queue: (now: string, peak: string, bound: string) => `${now} (most at once ${peak}, at most ${bound} per terminal)`,
  relaysHeading: 'Relays (DERP)',
  region: 'Region',
  stateColumn: 'State',
  rtt: 'Round trip',
  inOut: 'In / out',
  drops: 'Dropped',
  home: '(home)',
  machinesHeading: 'Machines',
  machine: 'Machine',
  handshake: 'Last handshake',
  noHandshake: 'none yet',
  receivedSent: 'Received / sent',
  path: 'Path',
  logHeading: 'Log',
};

/** Settings: remembered host keys, profiles, what this browser keeps. */
export const settingsStrings = {
  knownHostsHeading: 'Known hosts',
  noKnownHosts: 'None yet: the first login to a machine remembers its host key here.',
  forget: 'Forget',
  forgetLabel: (host: string) => `Forget the host key of ${host}`,
  legacy: 'Legacy device (SHA-1 allowed)',
  stopLegacyLabel: (host: string) => `Stop allowing SHA-1 for ${host}`,
  stopLegacy: 'Stop allowing',
  profilesHeading: 'Profiles',
  remove: 'Remove',
  removeLabel: (name: string) => `Remove profile ${name}`,
  sessionHeading: 'This browser',
  kiosk: 'Kiosk mode: this browser keeps nothing, and the tailnet forgets this machine when the tab closes.',
  persisted: 'Storage: this browser keeps your keys and logins until you wipe them.',
  notPersisted:
    'Storage: this browser may clear your keys and logins when it runs short of space (it did not grant persistent storage). Keep a copy of any SSH key you cannot replace (one made or imported with "Allow export").',
  storageUnknown: 'Storage: not known yet.',
  reopenAuto: "On a new visit, reopen the last visit's terminals by themselves",
  signOut: 'Sign out',
  wipe: 'Wipe everything',
  wipeConfirm: 'Delete every key, profile and setting of tailtab in this browser?',
};

/** Files: the folders of a machine, over the same SSH login as a terminal. */
export const filesStrings = {
  noneOpen: 'No files open yet: pick a machine and press Files.',
  heading: (title: string) => `Files on ${title}`,
  connecting: (title: string) => `Connecting to ${title}…`,
  couldNotOpen: (title: string, why: string) => `Could not open files on ${title}: ${why}`,
  tryAgain: 'Try again',
  goToLabel: 'Go to folder',
  goToPlaceholder: '/folder/on/the/machine',
  go: 'Go',
  uploadLabel: 'Upload a file to this folder',
  name: 'Name',
  size: 'Size',
  modified: 'Modified',
  bytes: (n: number) => `${n} bytes`,
  up: (parent: string) => `Up to ${parent}`,
  openFolder: (name: string) => `Open folder ${name}`,
  download: 'Download',
  downloadLabel: (name: string) => `Download ${name}`,
  empty: 'This folder is empty.',
  downloading: (name: string, got: string, size?: string) =>
    `Downloading ${name}: ${got}${size !== undefined ? ` of ${size}` : ''}`,
  downloaded: (name: string, got: string) => `Downloaded ${name} (${got}).`,
  replace: (name: string, folder: string) => `${name} is already in ${folder}. Replace it?`,
  kept: (name: string) => `Kept the existing ${name}; nothing uploaded.`,
  isFolder: (name: string, folder: string) =>
    `${folder} already has a folder named ${name}: rename the file, or upload it to another folder.`,
  uploading: (name: string, sent: string, size: string) => `Uploading ${name}: ${sent} of ${size}`,
  uploaded: (name: string, written: string) => `Uploaded ${name} (${written}).`,
};

/** Settings → SSH keys: make, import, list, export, delete. */
export const sshKeysStrings = {
  heading: 'SSH keys',
  intro:
    'Put a key\'s public line into ~/.ssh/authorized_keys on the machine you log in to. Logins with "All my keys" try them in the order listed here.',
  nameLabel: 'Key name',
  namePlaceholder: 'laptop-browser',
  allowExport: 'Allow export',
  create: 'Create key',
  importSection: 'Import a key',
  importHeading: 'Import your own key',
  importFormats: '(OpenSSH, PEM, PKCS#8 or PuTTY .ppk: Ed25519, ECDSA, RSA)',
  fileLabel: 'Private key file',
  pasteLabel: '…or paste it',
  passphraseLabel: 'Passphrase of this key',
  importNameLabel: 'Name (optional)',
  importNamePlaceholder: "from the file's comment",
  importing: 'Importing…',
  import: 'Import key',
  tooBig: (name: string, size: number) =>
    `"${name}" is ${size} bytes: too big to be a private key. Choose the key file itself (e.g. ~/.ssh/id_ed25519, not the .pub).`,
  fileChosen: (name: string, size: number) => `${name} (${size} bytes)`,
  nothingToImport: 'Choose your private key file, or paste its text, first.',
  passphrasesDiffer:
    'The two passphrases differ: type the same one twice (or leave both empty for a file without a passphrase).',
  deleteConfirm: (name: string) => `Delete the key "${name}"? Logins that use it stop working.`,
  exportGroup: (name: string) => `Export ${name}`,
  exportWarning:
    'Anyone with this file can log in wherever the key is authorized. A passphrase encrypts it the way ssh-keygen does (bcrypt, aes256-ctr).',
  exportPassphrase: 'Passphrase for the file (optional)',
  exportPassphrase2: 'The same passphrase again',
  saveFile: 'Save file',
  cancel: 'Cancel',
  imported: ', imported',
  copyPublic: 'Copy public key',
  copyPublicLabel: (name: string) => `Copy public key of ${name}`,
  exportPrivate: 'Export private key…',
  exportPrivateLabel: (name: string) => `Export private key of ${name}`,
  delete: 'Delete',
  deleteLabel: (name: string) => `Delete key ${name}`,
  heldWebCrypto:
    'Held by this browser as a non-extractable key: no script, this page included, can read its private half.',
  heldBytes:
    "Kept as bytes in this browser's storage: this browser cannot hold this type of key as a non-extractable one.",
  exportable: 'Can be exported.',
  notExportable: 'Cannot be exported (made or imported without "Allow export").',
};

/** The widget (<tailtab-connect>) on a vendor's page: one device, reached through the tailnet. */
export const widgetStrings = {
  /** The status line: "tailtab: ready as 100.64.0.3" (the phase words are what e2e journeys wait for). */
  status: (phase: string, ip?: string) => `tailtab: ${phase}${ip ? ` as ${ip}` : ''}`,
  waitingForApproval: 'waiting for login approval',
  connect: 'Connect to device',
  tryAgain: 'Try again',
  anotherKey: 'Use another key',
  frameTitle: 'Device web page',
  missingAttributes:
    'This page set the widget up without its control-url and target attributes: the site needs to add them.',
  badProxyOrigin: (why: string) => `The site set the widget's proxy-origin attribute wrongly: ${why}.`,
  noServiceWorker:
    "This browser gives tailtab no Service Worker here (a private window?), which the device's web page needs.",
  stopped: 'The connection to the tailnet stopped.',
  pageNotOpened: (why: string) => `The device's web page could not be opened: ${why}`,
  pageStopped: (why: string) => `The device's web page stopped: ${why}`,
};

/** The widget's "log in with your own key" step. */
export const widgetKeyStrings = {
  section: 'Your SSH key',
  heading: (account: string) => `Log in${account ? ` as ${account}` : ''} with your SSH key`,
  remembered: 'remembered on this device',
  thisVisit: 'this visit only',
  use: 'Use this key',
  forget: 'Forget',
  forgetLabel: (name: string) => `Forget ${name}`,
  fileLabel: 'Use a key file…',
  pasteLabel: 'or paste the private key',
  passphraseLabel: 'Passphrase (if the key has one)',
  remember: 'Remember this key on this device, for this site',
  about:
    "OpenSSH, PEM or PuTTY (.ppk) keys. The key stays in this browser (held, where the browser can, so that no script can read it back); this site's page can use it while you are here. Unless you tick Remember, it is gone when you leave.",
  reading: 'Reading the key…',
  submit: 'Log in with this key',
  tooBig: sshKeysStrings.tooBig,
  fileChosen: sshKeysStrings.fileChosen,
  nothingToUse: 'Choose your private key file, or paste its text, first.',
};

/** Desktop (VNC): the form, the password step, the toolbar, the text and clipboard panel. The probe's and the server's words: vnc.ts. */
export const desktopStrings = {
  heading: 'Desktop',
  of: (title: string) => ` of ${title}`,
  connecting: (where: string) => `Connecting to ${where}…`,
  passwordLabel: (where: string) => `VNC password for ${where}`,
  unlock: 'Unlock',
  cancel: 'Cancel',
  reconnect: 'Reconnect',
  screen: 'Remote desktop',
  machine: 'Machine',
  machinePlaceholder: 'name or 100.x.y.z',
  port: 'Port',
  connect: 'Connect',
  about:
    "VNC listens on 5900 + the display number (display :1 → 5901). The desktop's password is asked for when it has one. The connection runs inside the tailnet's encryption.",
  badPort: 'The port is a number from 1 to 65535 (5900 + the display number, e.g. 5901 for :1).',
  clientNotLoaded: (why: string) => `The VNC client could not be loaded: ${why}`,
  controls: 'Desktop controls',
  fit: 'Fit',
  actualSize: '1:1',
  viewOnly: 'View only',
  sendKeys: 'Send keys',
  sendKeysPick: 'Send keys…',
  textAndClipboard: 'Text and clipboard',
  fullScreen: 'Full screen',
  disconnect: 'Disconnect',
  textLabel: 'Text to type or to put on the remote clipboard',
  typeIt: 'Type it',
  sendClipboard: 'Send to remote clipboard',
  pasteFromDevice: 'Paste from this device',
  remoteClipboard: 'Remote clipboard',
  nothingCopied: '(nothing copied on the remote desktop yet)',
  typed: (n: number) => `Typed ${n} ${n === 1 ? 'character' : 'characters'}.`,
  sent: 'Sent to the remote clipboard.',
  cannotReadClipboard:
    'This browser did not let the page read your clipboard: paste into the box (Ctrl+V) and press "Send to remote clipboard".',
  copied: 'The remote clipboard was copied to this device.',
  cannotCopy:
    'The remote clipboard is shown under "Text and clipboard" (this browser did not let the page copy it by itself).',
};
