/**
 * @module The one place that reads the environment. `loadConfig` parses, validates and applies defaults
 * in one pass and fails at boot with one message listing every bad key.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The gateway's configuration. */
export interface Config {
  port: number;
  host: string;
  /** Embedded object store, database and model cache live here. */
  dataDir: string;
  /** The demo model served at start (a path loadModel understands), or null for none. */
  demoModel: string | null;
  /** Name under which the demo model is served. */
  demoModelName: string;
  /** onnxruntime intra-op threads per session. */
  threads: number;
  /** Largest JSON request body, in bytes. */
  maxRequestBytes: number;
}

/** Thrown at boot when the environment is invalid. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEMO_MODEL = fileURLToPath(new URL('../fixtures/models/stories260K/stories260K.bin', import.meta.url));

/**
 * Builds the config from environment variables.
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(raw: Record<string, string | undefined>): Readonly<Config> {
  const problems: string[] = [];
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = raw[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}=${JSON.stringify(v)} must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  };
  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: raw.HOST || '127.0.0.1',
    dataDir: resolve(raw.FLATGATE_DATA_DIR || './data'),
    demoModel: raw.FLATGATE_DEMO_MODEL === 'none' ? null : raw.FLATGATE_DEMO_MODEL || DEMO_MODEL,
    demoModelName: raw.FLATGATE_DEMO_MODEL_NAME || 'stories260K',
    threads: int('FLATGATE_THREADS', cpus().length, 1, 1024),
    maxRequestBytes: int('FLATGATE_MAX_REQUEST_BYTES', 1 << 20, 1024, 1 << 30),
  };
  if (problems.length) throw new ConfigError(`Invalid environment: ${problems.join('; ')}`);
  return Object.freeze(config);
}
