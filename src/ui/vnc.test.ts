import { describe, expect, it } from 'vitest';
import { desktopSizeProblem, KEY_COMBOS, keysymFor, vncEndSentence, vncProbeSentence } from './vnc.js';

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
    expect(
      vncEndSentence({
        where,
        clean: false,
        wasConnected: false,
        passwordSent: true,
        securityFailure: { status: 1, reason: 'Authentication failure' },
      }),
    ).toBe(
      'The VNC server at desk:5901 refused the password (it said: "Authentication failure"). Check it and connect again.',
    );
    expect(
      vncEndSentence({
        where,
        clean: false,
        wasConnected: false,
        dialError: 'Nothing is listening on desk:5901 (connection refused).',
      }),
    ).toBe('Nothing is listening on desk:5901 (connection refused).');
    expect(vncEndSentence({ where, clean: false, wasConnected: false, handshake: {} })).toBe(
      'desk:5901 accepted the connection but did not speak VNC (no RFB greeting): is this the VNC port (5900 + display number)?',
    );
    expect(
      vncEndSentence({ where, clean: false, wasConnected: true, handshake: { serverVersion: 'RFB 003.008' } }),
    ).toBe('The connection to desk:5901 was lost.');
    expect(vncEndSentence({ where, clean: true, wasConnected: true, byUser: true })).toBe('');
  });
  it('a server that offers only TLS says so', () => {
    expect(
      vncEndSentence({
        where,
        clean: false,
        wasConnected: false,
        handshake: { serverVersion: 'RFB 003.008', securityTypes: [19], chosenType: 19, vencryptSubtypes: [258] },
      }),
    ).toMatch(/^The VNC server at desk:5901 requires TLS \(VeNCrypt TLSVnc\)/);
  });
  it('who ended it: the host, or noVNC giving up on data it could not read', () => {
    const greeted = { serverVersion: 'RFB 003.008', securityTypes: [2], chosenType: 2 };
    expect(vncEndSentence({ where, clean: true, wasConnected: true, endedBy: 'host', handshake: greeted })).toBe(
      'The VNC server at desk:5901 closed the connection.',
    );
    expect(vncEndSentence({ where, clean: false, wasConnected: true, endedBy: 'local', handshake: greeted })).toBe(
      'The VNC server at desk:5901 sent data the VNC client could not read (a protocol error); the connection was closed.',
    );
    expect(vncEndSentence({ where, clean: false, wasConnected: false, endedBy: 'local', handshake: {} })).toMatch(
      /did not speak VNC/,
    );
  });
});

describe('desktopSizeProblem', () => {
  it('draws 8K and a 16384-wide strip, refuses 65535×65535 and 16384×16384', () => {
    expect(desktopSizeProblem(7680, 4320, 'h:1')).toBeUndefined();
    expect(desktopSizeProblem(16384, 2160, 'h:1')).toBeUndefined();
    expect(desktopSizeProblem(65535, 65535, 'h:1')).toBe(
      'The VNC server at h:1 announced a 65535×65535 desktop, larger than this page draws (at most 16384 pixels a side, 64 megapixels); the connection was closed.',
    );
    expect(desktopSizeProblem(16384, 16384, 'h:1')).toMatch(/larger than this page draws/);
  });
});

describe('the check of ports 5900-5901 when Desktop is pressed, in words', () => {
  it('says nothing when display :0 answers, names :1 when only it does, and says why when none does', () => {
    expect(vncProbeSentence({ host: 'h', open: [5900, 5901], reasons: {} }, 'nas')).toBe('');
    expect(vncProbeSentence({ host: 'h', open: [5901], reasons: { 5900: 'refused' } }, 'nas')).toBe(
      'A VNC server answers on port 5901 of nas (display :1).',
    );
    expect(vncProbeSentence({ host: 'h', open: [], reasons: { 5900: 'refused', 5901: 'refused' } }, 'nas')).toBe(
      'Nothing answered on ports 5900 and 5901 of nas (connection refused): no VNC server for display :0 or :1 there. Type the port your VNC server listens on, or start one on that machine.',
    );
    expect(vncProbeSentence({ host: 'h', open: [], reasons: { 5900: 'no answer', 5901: 'refused' } }, 'nas')).toMatch(
      /^Nothing answered on ports 5900 and 5901 of nas \(no answer, refused\)/,
    );
  });
});
