/** A small, strict argument parser: `--name value`, `--name=value`, boolean flags, repeated options. */

export class UsageError extends Error {}

export interface OptionSpec {
  /** 'string' takes a value, 'boolean' does not, 'list' takes a value and may repeat. */
  type: 'string' | 'boolean' | 'list';
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | string[] | undefined>;
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const positionals: string[] = [];
  const options: ParsedArgs['options'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (s.type === 'list') {
      const list = (options[name] as string[] | undefined) ?? [];
      list.push(value);
      options[name] = list;
    } else options[name] = value;
  }
  return { positionals, options };
}

export function intOption(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `HOST:PORT` or `[v6]:PORT` → {host, port}. */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`${what} must be HOST:PORT (IPv6 as [::1]:5060), got ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new UsageError(`${what}: port ${port} out of range`);
  return { host: m[1], port };
}

export function transportOption(value: unknown): 'udp' | 'tcp' | 'tls' {
  if (value === undefined) return 'udp';
  if (value === 'udp' || value === 'tcp' || value === 'tls') return value;
  throw new UsageError(`--transport must be udp, tcp or tls, got ${JSON.stringify(value)}`);
}
