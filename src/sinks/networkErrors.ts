/**
 * Node's socket and DNS error codes (`err.code`) that mean the connection to a server is gone
 * or never came up: the database sinks answer them with `reconnect`, so the loop closes the
 * client and opens a new one with back-off. Each sink adds the codes its own client uses for
 * the same thing (mysql2's `PROTOCOL_CONNECTION_LOST`, undici's `UND_ERR_SOCKET`).
 */
const SOCKET_LOST_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
] as const;

type SocketLostCode = (typeof SOCKET_LOST_CODES)[number];

/**
 * The codes that mean "reconnect" for one client: the shared socket codes plus the client's
 * own, less any the sink classifies otherwise (`except`, with its reason at the call).
 */
export function connectionLostCodes(
  clientCodes: readonly string[] = [],
  except: readonly SocketLostCode[] = [],
): ReadonlySet<string> {
  return new Set([...SOCKET_LOST_CODES.filter((code) => !except.includes(code)), ...clientCodes]);
}

/** The error's string `code` when it is one of `codes`, else undefined. */
export function connectionLostCode(err: unknown, codes: ReadonlySet<string>): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && codes.has(code) ? code : undefined;
}
