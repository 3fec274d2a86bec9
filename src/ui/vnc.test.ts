import { describe, expect, it } from 'vitest';
import { KEY_COMBOS, keysymFor, vncEndSentence } from './vnc.js';

describe('keysymFor', () => {
  it('Latin-1 is its own keysym, other characters are 0x01000000 + code point, control characters have none', () => {
    expect(['a', 'Z', ' ', '~', 'é'].map(keysymFor)).toEqual([0x61, 0x5a, 0x20, 0x7e, 0xe9]);
    expect(keysymFor('€')).toBe(0x010020ac);
    expect(keysymFor('\n')).toBe(0xff0d);
    expect(keysymFor('\u0007')).toBeUndefined();
    expect(keysymFor('')).toBeUndefined();
  });
  it('Ctrl+Alt+Del is Control_L, Alt_L, Delete', () => {
    expect(KEY_COMBOS[0]!.keys.map((k) => k.keysym)).toEqual([0xffe3, 0xffe9, 0xffff]);
  });
});

describe('vncEndSentence', () => {
  const where = 'desk:5901';
  it('a refused password, a refused port, a server that is not VNC, a lost connection', () => {
    expect(vncEndSentence({ where, clean: false, wasConnected: false, passwordSent: true, securityFailure: { status: 1, reason: 'Authentication failure' } }))
      .toBe('The VNC server at desk:5901 refused the password (it said: "Authentication failure"). Check it and connect again.');
    expect(vncEndSentence({ where, clean: false, wasConnected: false, dialError: 'Nothing is listening on desk:5901 (connection refused).' }))
      .toBe('Nothing is listening on desk:5901 (connection refused).');
    expect(vncEndSentence({ where, clean: false, wasConnected: false, handshake: {} }))
      .toBe('desk:5901 accepted the connection but did not speak VNC (no RFB greeting): is this the VNC port (5900 + display number)?');
    expect(vncEndSentence({ where, clean: false, wasConnected: true, handshake: { serverVersion: 'RFB 003.008' } })).toBe('The connection to desk:5901 was lost.');
    expect(vncEndSentence({ where, clean: true, wasConnected: true, byUser: true })).toBe('');
  });
  it('a server that offers only TLS says so', () => {
    expect(vncEndSentence({ where, clean: false, wasConnected: false, handshake: { serverVersion: 'RFB 003.008', securityTypes: [19], chosenType: 19, vencryptSubtypes: [258] } }))
      .toMatch(/^The VNC server at desk:5901 requires TLS \(VeNCrypt TLSVnc\)/);
  });
});
