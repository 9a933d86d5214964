import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../errors.ts';
import { GatewayError } from './gateway-client.ts';
import { isPermanent } from './worker-loop.ts';

describe('isPermanent (a failed job goes to the dead letter instead of running again)', () => {
  it('is true for a bad upload and for a completion the gateway refuses as malformed or too large', () => {
    expect(isPermanent(new InvalidRequest('bad config.json'))).toBe(true);
    expect(isPermanent(new GatewayError(413, 'The request body is larger than 1048576 bytes', 'payload_too_large'))).toBe(true);
    expect(isPermanent(new GatewayError(400, 'variants.0.name: invalid', 'invalid_request'))).toBe(true);
  });

  it('is false for what may pass: the gateway failing or unreachable, a lost lease, anything else', () => {
    expect(isPermanent(new GatewayError(502, 'bad gateway', 'gateway_error'))).toBe(false);
    expect(isPermanent(new GatewayError(409, 'lease lost', 'lease_lost'))).toBe(false);
    expect(isPermanent(new Error('ECONNRESET'))).toBe(false);
  });
});
