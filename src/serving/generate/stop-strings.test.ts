import { describe, expect, it } from 'vitest';
import { scanStops } from './stop-strings.ts';

describe('scanStops', () => {
  it('emits everything when no stop string can start', () => {
    expect(scanStops('hello world', 0, ['END'])).toEqual({ end: 11, stopped: false });
  });
  it('holds back a tail that may become a stop string', () => {
    expect(scanStops('hello EN', 0, ['END'])).toEqual({ end: 6, stopped: false });
  });
  it('cuts at the first stop string', () => {
    expect(scanStops('a.b\n\nc END', 0, ['END', '\n\n'])).toEqual({ end: 3, stopped: true });
  });
  it('never moves back before what was already emitted', () => {
    expect(scanStops('abcEND', 4, ['END'])).toEqual({ end: 4, stopped: true });
  });
});
