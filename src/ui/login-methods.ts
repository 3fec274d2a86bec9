// The ways the login dialog offers to log in to a machine, each offered only where it can work or
// marked with the reason in words: Tailscale SSH where the machine runs it (it published SSH host
// keys to the tailnet, PeerView.tailscaleSsh), a key of this browser once there is one.
import { sshDialogStrings as D } from './strings.js';

export type LoginMethod = 'none' | 'password' | 'key';

export interface LoginMethodChoice {
  value: LoginMethod;
  label: string;
  disabled: boolean;
}

/** The dialog's choices for a machine, in the order shown. */
export function loginMethods(peer: { tailscaleSsh?: boolean }, keyCount: number): LoginMethodChoice[] {
  return [
    {
      value: 'none',
      label: peer.tailscaleSsh ? D.methodTailscale : D.methodTailscaleNotHere,
      disabled: !peer.tailscaleSsh,
    },
    { value: 'password', label: D.methodPassword, disabled: false },
    { value: 'key', label: keyCount ? D.methodKey : D.methodKeyNone, disabled: !keyCount },
  ];
}

/** The method the dialog starts on: the one used last if it can still work, else the easiest that can. */
export function initialMethod(
  peer: { tailscaleSsh?: boolean },
  keyCount: number,
  last: LoginMethod | undefined,
): LoginMethod {
  const usable = loginMethods(peer, keyCount).filter((c) => !c.disabled);
  if (last && usable.some((c) => c.value === last)) return last;
  return peer.tailscaleSsh ? 'none' : keyCount ? 'key' : 'password';
}
