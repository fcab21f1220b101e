import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1, for a server started a moment later
 * (often in another process, so the port cannot be held meanwhile).
 *
 * It is picked at random below the kernel's ephemeral range: the kernel gives ports of that
 * range to every outgoing connection (the suite opens thousands: fetches, database clients,
 * brokers), and one of them could take the port between this answer and the server's bind.
 * Below the range only an explicit bind takes a port, and the random pick keeps two test files
 * running at once apart. Falls back to a port from the kernel when the range leaves no room.
 */
export async function freePort(): Promise<number> {
  const below = ephemeralStart();
  if (below - LOWEST > 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
      if (await bindable(port)) return port;
    }
  }
  return listenAndClose(0);
}

/** The lowest port handed out at random: above the well-known and most service ports. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

async function bindable(port: number): Promise<boolean> {
  try {
    await listenAndClose(port);
    return true;
  } catch {
    return false;
  }
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}
