import { expect, it } from 'vitest';
import { formatAge, formatBytes, formatLastSeen, matchesQuery, shortName } from './format.js';

it('formats sizes and ages a person can read', () => {
  expect(formatBytes(0)).toBe('0 B');
  expect(formatBytes(1536)).toBe('1.5 KB');
  expect(formatBytes(64 * 1024 * 1024)).toBe('64 MB');
  expect(formatAge(4_000)).toBe('4s ago');
  expect(formatAge(3 * 3600_000)).toBe('3h ago');
  expect(formatAge(undefined)).toBe('never');
  expect(formatLastSeen('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:02:00Z'))).toBe('2m ago');
  expect(formatLastSeen('garbage')).toBe('unknown');
});

it('searches machines by any word of name, IP or OS', () => {
  const fields = ['nas', 'nas.tail.example.', '100.64.0.7', 'linux'];
  expect(matchesQuery('NAS', fields)).toBe(true);
  expect(matchesQuery('100.64 linux', fields)).toBe(true);
  expect(matchesQuery('windows', fields)).toBe(false);
  expect(shortName('nas.tail.example.')).toBe('nas');
});
